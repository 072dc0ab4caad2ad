import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Records, on `scope` and everything below it, why a cdk-nag finding does not apply.
 *
 * It writes aws-cdk-lib's acknowledgement metadata (`Validations.ACKNOWLEDGED_RULES_METADATA_KEY`),
 * which cdk-nag 3 reads: the library does not depend on cdk-nag, and users who run it see our reasons.
 * The metadata is written directly rather than through `Validations.acknowledge()`, which rejects IDs
 * holding more than one `::`, as findings on AWS managed policies do
 * (`AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/...]`).
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  const key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY;
  const previous = scope.node.metadata.filter((entry) => entry.type === key).pop()?.data ?? {};
  scope.node.addMetadata(key, { ...previous, [id]: reason });
}
