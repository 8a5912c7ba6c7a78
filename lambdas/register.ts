import { documentClient } from './core/aws.js';
import { FUNCTION_SETTINGS, loadConfig } from './core/config.js';
import { createApiHandler } from './core/http.js';
import { subscriptionRoutes } from './core/subscription-api.js';
import { SubscriptionStore } from './core/subscriptions.js';

const config = loadConfig(FUNCTION_SETTINGS.register);
const store = new SubscriptionStore(documentClient(), config.subscriptionsTable);

export const handler = createApiHandler(subscriptionRoutes(store, { allowPrivateUrls: config.allowPrivateUrls }));
