import { App } from 'aws-cdk-lib';
import { FanoutStack } from '../lib/fanout-stack.js';

const app = new App();
new FanoutStack(app, 'WebhookFanout', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
