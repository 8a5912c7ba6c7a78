import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlarmTopicProps {
  /**
   * An address that receives every alarm notification (it must confirm the subscription first).
   * @default - no subscription; subscribe to the topic yourself
   */
  readonly email?: string | undefined;
}

const CLOUDWATCH = new ServicePrincipal('cloudwatch.amazonaws.com');

/** Whether SNS could send to the address: one @, no spaces, a dot in the domain. */
export function isEmailAddress(text: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text);
}

/**
 * Where the service's alarms are sent: an SNS topic encrypted with a customer-managed KMS key. The AWS-managed
 * `aws/sns` key cannot be used, because its key policy cannot be changed to let CloudWatch encrypt the
 * messages it publishes; this key's policy allows exactly that.
 */
export class AlarmTopic extends Construct {
  readonly topic: Topic;
  readonly key: Key;

  constructor(scope: Construct, id: string, props: AlarmTopicProps = {}) {
    super(scope, id);
    if (props.email !== undefined && !isEmailAddress(props.email)) {
      throw new Error(`${this.node.path}: alarm email "${props.email}" is not an email address`);
    }
    const { account, partition, region } = Stack.of(this);

    this.key = new Key(this, 'Key', {
      description: 'Encrypts the webhook fan-out alarm topic',
      enableKeyRotation: true,
      // The key only protects notifications in flight; deletion waits the default 30-day window and can be
      // cancelled, so a deleted stack does not leave a key that costs money forever.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch alarms publish to the topic and so need to use its key.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [CLOUDWATCH],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );

    this.topic = new Topic(this, 'Topic', { masterKey: this.key, enforceSSL: true });
    // The topic has a resource policy (for enforceSSL), so CloudWatch is allowed explicitly, and only for this
    // account's alarms.
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [CLOUDWATCH],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
          StringEquals: { 'aws:SourceAccount': account },
        },
      }),
    );

    if (props.email !== undefined) this.topic.addSubscription(new EmailSubscription(props.email));
  }
}
