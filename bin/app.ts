import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FanoutStack } from '../lib/fanout-stack.js';

const app = new App();
new FanoutStack(app, 'WebhookFanout', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// Every synth (and so every deploy) fails on an unacknowledged AwsSolutions finding, error or warning; the
// accepted ones and their reasons are in lib/nag-acknowledgements.ts.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
