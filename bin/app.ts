import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ContextError, stackPropsFromContext } from '../lib/context.js';
import { FanoutStack } from '../lib/fanout-stack.js';

// Synthesized explicitly, so that a refused context leaves nothing half-built to synthesize on exit.
const app = new App({ autoSynth: false });
try {
  // The context is read and checked here, against where the stack deploys; the stack takes only props.
  const { CDK_DEFAULT_ACCOUNT: account, CDK_DEFAULT_REGION: region } = process.env;
  const env = { ...(account ? { account } : {}), ...(region ? { region } : {}) };
  new FanoutStack(app, 'WebhookFanout', stackPropsFromContext(app, env));
  // Every synth (and so every deploy) fails on an unacknowledged AwsSolutions finding, error or warning; the
  // accepted ones and their reasons are in lib/nag-acknowledgements.ts.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
} catch (error) {
  // A deployer's mistake, already explained in full: the message alone, no stack trace.
  if (!(error instanceof ContextError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
