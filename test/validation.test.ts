import { App, CfnParameter, Duration, Size, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { ScalableWordPress, ScalableWordPressProps, WordPressDatabase, WordPressMedia } from '../src';
import { synth, zone } from './util';

/** Builds a site in a fresh stack; `props` may use the stack (for a zone or a VPC). */
function build(props: (stack: Stack) => ScalableWordPressProps) {
  const stack = new Stack(new App(), 'Test');
  return () => new ScalableWordPress(stack, 'Site', props(stack));
}

function singleAzVpc(stack: Stack) {
  return new ec2.Vpc(stack, 'OneAz', {
    maxAzs: 1,
    subnetConfiguration: [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    ],
  });
}

describe('bad props fail at synth time with the prop, the value and the fix', () => {
  test('fails when ebs() is given a maxCapacity above 1', () => {
    expect(build(() => ({ media: WordPressMedia.ebs(), maxCapacity: 3 })))
      .toThrow(/maxCapacity is 3, but WordPressMedia\.ebs\(\) .* Use media: WordPressMedia\.efs\(\)/);
  });

  test('fails when ebs() is given a minCapacity above 1', () => {
    expect(build(() => ({ media: WordPressMedia.ebs(), minCapacity: 2 })))
      .toThrow(/minCapacity is 2, but WordPressMedia\.ebs\(\) .* or set minCapacity to 1/);
  });

  test('fails when minCapacity is greater than maxCapacity', () => {
    expect(build(() => ({ minCapacity: 5, maxCapacity: 3 })))
      .toThrow(/minCapacity \(5\) is greater than maxCapacity \(3\)\. Raise maxCapacity to at least 5/);
  });

  test.each([
    ['minCapacity', { minCapacity: 0 }, /minCapacity is 0, but it must be a whole number from 1 to 1000/],
    ['maxCapacity', { maxCapacity: 0 }, /maxCapacity is 0, but it must be a whole number from 1 to 1000/],
    ['minCapacity', { minCapacity: 1.5 }, /minCapacity is 1.5, but it must be a whole number/],
  ])('fails when %s is below 1 or not whole', (_, props, message) => {
    expect(build(() => props)).toThrow(message);
  });

  test.each([
    [Duration.millis(1500), /pageCacheTtl \(in seconds\) is 1.5, but it must be a whole number from 0 to 86400\. Use e\.g\. Duration\.minutes\(1\)/],
    [Duration.days(2), /pageCacheTtl \(in seconds\) is 172800, but it must be a whole number from 0 to 86400/],
  ])('fails when pageCacheTtl is %p', (pageCacheTtl, message) => {
    expect(build(() => ({ pageCacheTtl }))).toThrow(message);
  });

  test('fails when pageCacheTtl is a token, which the instances could not read at boot', () => {
    expect(build((stack) => ({ pageCacheTtl: Duration.seconds(new CfnParameter(stack, 'Ttl', { type: 'Number' }).valueAsNumber) })))
      .toThrow(/pageCacheTtl must be a literal Duration: the instances read it at boot/);
  });

  test.each([-1, 16, 2.5])('fails when auroraReplicas readers is %p', (readers) => {
    expect(() => WordPressDatabase.auroraReplicas({ readers }))
      .toThrow(new RegExp(`WordPressDatabase\\.auroraReplicas\\(\\{ readers \\}\\) is ${readers}, but it must be a whole number from 0 to 15`));
  });

  test('fails when the Serverless v2 capacity range is invalid', () => {
    expect(() => WordPressDatabase.auroraReplicas({ serverlessV2MinCapacity: 4, serverlessV2MaxCapacity: 2 }))
      .toThrow(/serverlessV2MinCapacity 4 and serverlessV2MaxCapacity 2 are not a valid range/);
  });

  test('fails when domainName is given without domainZone', () => {
    expect(build(() => ({ domainName: 'blog.example.com' })))
      .toThrow(/domainName is 'blog\.example\.com' but domainZone is not set\. Pass the Route 53 hosted zone/);
  });

  test('fails when certificate is given without domainName', () => {
    expect(build((s) => ({ certificate: acm.Certificate.fromCertificateArn(s, 'C', 'arn:aws:acm:eu-west-1:111111111111:certificate/x') })))
      .toThrow(/certificate is set but domainName is not\. Set domainName to the name the certificate covers/);
  });

  test('fails when domainName is outside domainZone', () => {
    expect(build((s) => ({ domainName: 'blog.example.org', domainZone: zone(s, 'example.com') })))
      .toThrow(/domainName 'blog\.example\.org' is not in domainZone 'example\.com'/);
    // A name that merely ends with the same letters is not in the zone either.
    expect(build((s) => ({ domainName: 'notexample.com', domainZone: zone(s, 'example.com') })))
      .toThrow(/is not in domainZone/);
  });

  test('accepts the zone apex and names inside the zone, in any case and with a trailing dot', () => {
    expect(build((s) => ({ domainName: 'Example.com.', domainZone: zone(s, 'example.com') }))).not.toThrow();
    expect(build((s) => ({ domainName: 'a.b.example.com', domainZone: zone(s, 'example.com.') }))).not.toThrow();
  });

  test.each([
    ['rdsMultiAz', () => WordPressDatabase.rdsMultiAz()],
    ['auroraReplicas', () => WordPressDatabase.auroraReplicas()],
  ])('fails when the VPC has fewer than two AZs for %s', (name, database) => {
    expect(build((s) => ({ vpc: singleAzVpc(s), database: database() })))
      .toThrow(new RegExp(`WordPressDatabase\\.${name}\\(\\) needs subnets in at least two Availability Zones .* span one Availability Zone`));
  });

  test.each([0, 0.5])('fails when the EBS size is %p GiB', (gib) => {
    expect(() => WordPressMedia.ebs({ size: Size.gibibytes(gib) }))
      .toThrow(new RegExp(`WordPressMedia\\.ebs\\(\\{ size \\}\\) is ${gib} GiB, but an EBS volume must be a whole number of GiB`));
  });

  test('fails when vpcSubnets selects no subnet', () => {
    expect(build((s) => ({ vpc: new ec2.Vpc(s, 'Vpc', { subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC }, { name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] }) })))
      .toThrow(/vpcSubnets selects no subnet in the VPC: There are no 'Private' subnet groups .* Pass vpcSubnets that select private subnets .*PRIVATE_WITH_EGRESS/);
  });

  test('fails when the backup retention is outside 1 to 35 days', () => {
    expect(() => WordPressDatabase.rdsMultiAz({ backupRetention: Duration.days(40) }))
      .toThrow(/backupRetention is 40 days; RDS keeps automated backups for 1 to 35 whole days/);
  });

  test('fails when the RDS storage limits are inverted', () => {
    expect(() => WordPressDatabase.rdsMultiAz({ allocatedStorageGiB: 100, maxAllocatedStorageGiB: 50 }))
      .toThrow(/maxAllocatedStorageGiB \}\) is 50, but it must be a whole number from 100/);
  });

  test.each([
    [{ targetCpuUtilizationPercent: 0 }, /targetCpuUtilizationPercent is 0, but it must be above 0 and at most 100/],
    [{ targetCpuUtilizationPercent: 120 }, /targetCpuUtilizationPercent is 120/],
    [{ targetRequestsPerMinute: -1 }, /targetRequestsPerMinute is -1, but it must be a whole number above 0/],
  ])('fails on a bad scaling target %p', (props, message) => {
    expect(build(() => props)).toThrow(message);
  });
});

describe('risky but legal choices warn', () => {
  test('Aurora without readers', () => {
    const { stack } = synth({ database: WordPressDatabase.auroraReplicas({ readers: 0 }) });
    Annotations.fromStack(stack).hasWarning('/Test/Site/Database', Match.stringLikeRegexp('readers: 0 \\}\\) has no reader'));
  });

  test('EBS media, which runs one instance in one AZ', () => {
    const { stack } = synth({ media: WordPressMedia.ebs() });
    Annotations.fromStack(stack).hasWarning('/Test/Site', Match.stringLikeRegexp('WordPressMedia\\.ebs\\(\\) runs one instance in one Availability Zone'));
  });

  test('EBS media in a VPC whose instance subnets are in one AZ', () => {
    const stack = new Stack(new App(), 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    new ScalableWordPress(stack, 'Site', { vpc, vpcSubnets: { subnets: [vpc.privateSubnets[1]] }, media: WordPressMedia.ebs() });
    Annotations.fromStack(stack).hasWarning('/Test/Site', Match.stringLikeRegexp('one instance in one Availability Zone'));
  });

  test('EFS media with the instances in one AZ', () => {
    const stack = new Stack(new App(), 'Test');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    new ScalableWordPress(stack, 'Site', { vpc, vpcSubnets: { subnets: [vpc.privateSubnets[0]] } });
    Annotations.fromStack(stack).hasWarning('/Test/Site', Match.stringLikeRegexp('The instances run in one Availability Zone'));
  });

  test('a page cache longer than 10 minutes, which nothing purges', () => {
    const { stack } = synth({ pageCacheTtl: Duration.hours(1) });
    Annotations.fromStack(stack).hasWarning('/Test/Site', Match.stringLikeRegexp('pageCacheTtl is 3600 s: after an edit, anonymous visitors may see the old page'));
  });

  test('no domain, so no HTTPS', () => {
    const { stack } = synth();
    Annotations.fromStack(stack).hasWarning('/Test/Site', Match.stringLikeRegexp('served over plain HTTP'));
  });

  test('a site with a domain, Aurora readers and EFS has no warning', () => {
    const stack = new Stack(new App(), 'Test');
    new ScalableWordPress(stack, 'Site', {
      database: WordPressDatabase.auroraReplicas({ readers: 2 }),
      domainName: 'blog.example.com',
      domainZone: zone(stack),
    });
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('.*'));
  });
});
