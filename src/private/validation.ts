import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';

/**
 * Throws unless `value` is a whole number in [min, max]. Tokens pass: they are checked at deploy time.
 *
 * @param prop how the user wrote the prop, e.g. `minCapacity` or `WordPressMedia.ebs({ size })`
 */
export function ensureInteger(prop: string, value: number, min: number, max: number, fix?: string): void {
  if (Token.isUnresolved(value)) {
    return;
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${prop} is ${value}, but it must be a whole number from ${min} to ${max}.${fix ? ' ' + fix : ''}`);
  }
}

/** The Availability Zones the subnets are in, each once. */
export function distinctAzs(subnets: ec2.SelectedSubnets): string[] {
  return [...new Set(subnets.subnets.map((s) => s.availabilityZone))];
}

/** "one Availability Zone", "2 Availability Zones" */
export function describeAzs(azCount: number): string {
  return azCount === 1 ? 'one Availability Zone' : `${azCount} Availability Zones`;
}
