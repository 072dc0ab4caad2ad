import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * The removal policy of everything the site keeps but the database: retained, unless the site is a test stack
 * (`DESTROY`). `SNAPSHOT` is the database's alone: CloudFormation snapshots only some resource types, and EFS,
 * keys, secrets, logs and vaults are not among them.
 */
export function retainUnlessDestroyed(policy?: RemovalPolicy): RemovalPolicy {
  return policy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
}

/** A customer managed key of the site's, rotated yearly, kept as the data it encrypts is (retainUnlessDestroyed). */
export function createSiteKey(scope: Construct, id: string, description: string, removalPolicy?: RemovalPolicy): kms.Key {
  return new kms.Key(scope, id, { description, enableKeyRotation: true, removalPolicy: retainUnlessDestroyed(removalPolicy) });
}

/** A site key for logs: CloudWatch Logs may use it for this account's log groups in this Region only. */
export function createLogsKey(scope: Construct, id: string, description: string, removalPolicy?: RemovalPolicy): kms.Key {
  const key = createSiteKey(scope, id, description, removalPolicy);
  key.addToResourcePolicy(new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
    actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    resources: ['*'],
    conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*` } },
  }));
  return key;
}
