import { CfnMapping, Stack, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';

/**
 * Where RDS publishes the certificate bundle of each region, by partition
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html, "Certificate bundles by AWS Region";
 * China: https://docs.amazonaws.cn/en_us/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html). GovCloud serves both of
 * its regions from the us-gov-west-1 host, China both of its regions from an S3 bucket in cn-north-1.
 * The bundle of a region is `https://<host>/<region>/<region>-bundle.pem`.
 */
const RDS_CA_BUNDLE_HOSTS: Record<string, string> = {
  'aws': 'truststore.pki.rds.amazonaws.com',
  'aws-us-gov': 'truststore.pki.us-gov-west-1.rds.amazonaws.com',
  'aws-cn': 'rds-truststore.s3.cn-north-1.amazonaws.com.cn',
};

/** Partitions where Debian publishes no SSM parameter for its images, so the default image cannot be resolved. */
const NO_DEBIAN_IMAGE_PARAMETER = ['aws-cn'];

/**
 * The URL of the RDS CA bundle for the stack's region. In a stack with a concrete region it is a literal;
 * in an environment-agnostic stack CloudFormation picks it by `AWS::Partition` from a mapping.
 * A partition without a published bundle fails here, at synth time, when the region is known.
 */
export function rdsCaBundleUrl(scope: Construct): string {
  const stack = Stack.of(scope);
  const partition = partitionOf(stack);
  if (!Token.isUnresolved(partition) && !(partition in RDS_CA_BUNDLE_HOSTS)) {
    throw new Error(
      `The stack's region ${stack.region} is in the ${partition} partition, where RDS publishes no certificate bundle that the ` +
      `instances could download to verify the database. Deploy the site in ${Object.keys(RDS_CA_BUNDLE_HOSTS).join(', ')}.`,
    );
  }
  const id = 'ScalableWordPressRdsCaBundleHosts';
  const mapping = (stack.node.tryFindChild(id) as CfnMapping | undefined) ?? new CfnMapping(stack, id, {
    mapping: Object.fromEntries(Object.entries(RDS_CA_BUNDLE_HOSTS).map(([p, host]) => [p, { host }])),
    lazy: true, // rendered only when the partition is a token, i.e. in an environment-agnostic stack
  });
  const host = mapping.findInMap(partition, 'host');
  return `https://${host}/${stack.region}/${stack.region}-bundle.pem`;
}

/**
 * Fails when the default image cannot be resolved in the stack's partition: Debian publishes its image
 * parameters (`/aws/service/debian/...`) in neither China region.
 */
export function requireDebianImageParameter(scope: Construct): void {
  const stack = Stack.of(scope);
  const partition = partitionOf(stack);
  if (!Token.isUnresolved(partition) && NO_DEBIAN_IMAGE_PARAMETER.includes(partition)) {
    throw new Error(
      'machineImage is not set, and the default image is resolved from Debian\'s public SSM parameter, which Debian does not publish in ' +
      `${stack.region} (partition ${partition}). Pass machineImage: a Debian 13 image available there, e.g. ec2.MachineImage.genericLinux({ '${stack.region}': 'ami-...' }).`,
    );
  }
}

/**
 * The stack's partition: a literal when its region is (whatever `@aws-cdk/core:enablePartitionLiterals` says),
 * `AWS::Partition` otherwise.
 */
function partitionOf(stack: Stack): string {
  return Token.isUnresolved(stack.region) ? stack.partition : RegionInfo.get(stack.region).partition ?? stack.partition;
}
