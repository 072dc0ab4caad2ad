import { App, CfnParameter, Duration, Size, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AuroraReaderType, ScalableWordPress, ScalableWordPressProps, WordPressDatabase, WordPressMedia } from '../src';
import { synth, synthWith, userDataOf, zone } from './util';

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

  test.each([
    ['serverlessV2MaxCapacity', { serverlessV2MaxCapacity: 16 }],
    ['serverlessV2MinCapacity', { readerType: AuroraReaderType.PROVISIONED, serverlessV2MinCapacity: 1 }],
  ])('fails when %s is set without Serverless v2 readers, which would silently build provisioned readers', (prop, options) => {
    expect(() => WordPressDatabase.auroraReplicas({ readers: 1, ...options }))
      .toThrow(new RegExp(`auroraReplicas\\(\\{ ${prop}: \\d+ \\}\\) applies to Serverless v2 readers, but readerType is .*Add readerType: AuroraReaderType\\.SERVERLESS_V2, or remove ${prop}`));
  });

  test.each([
    ['instanceType', 't3.small'],
    ['instanceType', 'm5.large'],
    ['readerInstanceType', 't4g.micro'],
  ])('fails when auroraReplicas %s is db.%s, which Aurora MySQL 3 does not support', (prop, name) => {
    expect(() => WordPressDatabase.auroraReplicas({ [prop]: new ec2.InstanceType(name) }))
      .toThrow(new RegExp(`auroraReplicas\\(\\{ ${prop} \\}\\) is db\\.${name.replace('.', '\\.')}, which Aurora MySQL 3 does not support.*Use e\\.g\\. r6g\\.large`));
  });

  test.each(['r6g.large', 'r7i.2xlarge', 'x2g.large', 't4g.medium', 't3.large'])('accepts Aurora MySQL 3 class db.%s', (name) => {
    expect(() => WordPressDatabase.auroraReplicas({ instanceType: new ec2.InstanceType(name) })).not.toThrow();
  });

  test('fails in a China region without machineImage: Debian publishes no image parameter there', () => {
    const stack = new Stack(new App(), 'Test', { env: { region: 'cn-north-1' } });
    expect(() => new ScalableWordPress(stack, 'Site'))
      .toThrow(/machineImage is not set, and the default image is resolved from Debian's public SSM parameter, which Debian does not publish in cn-north-1.*Pass machineImage/);
  });

  test('fails in a partition where RDS publishes no CA bundle', () => {
    const stack = new Stack(new App(), 'Test', { env: { region: 'us-iso-east-1' } });
    const machineImage = ec2.MachineImage.genericLinux({ 'us-iso-east-1': 'ami-1' });
    expect(() => new ScalableWordPress(stack, 'Site', { machineImage }))
      .toThrow(/region us-iso-east-1 is in the aws-iso partition, where RDS publishes no certificate bundle/);
  });

  test('fails when the Serverless v2 capacity range is invalid', () => {
    const serverless = { readerType: AuroraReaderType.SERVERLESS_V2 };
    expect(() => WordPressDatabase.auroraReplicas({ ...serverless, serverlessV2MinCapacity: 4, serverlessV2MaxCapacity: 2 }))
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

  test.each(['Blog.Example.com', 'blog.example.com.', 'BLOG.EXAMPLE.COM.'])(
    'normalizes domainName %p to blog.example.com in the records, the certificate and the site URL', (domainName) => {
      const { site, template } = synthWith((s) => ({ domainName, domainZone: zone(s) }));
      template.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'blog.example.com.', Type: 'A' });
      template.hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: 'blog.example.com' });
      template.hasResourceProperties('AWS::Route53::HealthCheck', { HealthCheckConfig: Match.objectLike({ FullyQualifiedDomainName: 'blog.example.com' }) });
      expect(site.url).toBe('https://blog.example.com');
      expect(userDataOf(template)).toContain("WP_SITE_URL='https://blog.example.com'");
    });

  test.each([
    ['rdsMultiAz', () => WordPressDatabase.rdsMultiAz()],
    ['auroraReplicas', () => WordPressDatabase.auroraReplicas()],
  ])('fails when the VPC has fewer than two AZs for %s', (name, database) => {
    expect(build((s) => ({ vpc: singleAzVpc(s), database: database() })))
      .toThrow(new RegExp(`WordPressDatabase\\.${name}\\(\\) needs subnets in at least two Availability Zones .* span one Availability Zone\\. Pass a vpc`));
    // The AZ names are deploy-time tokens here: the message must not print them raw.
    expect(build((s) => ({ vpc: singleAzVpc(s), database: database() }))).not.toThrow(/\$\{Token/);
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
    ['https://blog.example.com', /domainName is 'https:\/\/blog\.example\.com', but it must be a host name, without a scheme or path\. Use domainName: 'blog\.example\.com'/],
    ['http://Blog.Example.com/wp/', /Use domainName: 'blog\.example\.com'/],
    ['blog.example.com:8443', /domainName is 'blog\.example\.com:8443', but it must be a host name such as 'blog\.example\.com'/],
    ['*.example.com', /domainName is '\*\.example\.com', but it must be a host name/],
    ['blog', /domainName is 'blog', but it must be a host name .* two or more labels/],
    ['blog..example.com', /domainName is 'blog\.\.example\.com', but it must be a host name/],
  ])('fails when domainName is %p', (domainName, message) => {
    expect(build((s) => ({ domainName, domainZone: zone(s) }))).toThrow(message);
  });

  test('fails when domainZone is given without domainName, which would leave the zone without a record', () => {
    expect(build((s) => ({ domainZone: zone(s) })))
      .toThrow(/domainZone is set \('example\.com'\) but domainName is not, so the zone would get no record\. Set domainName/);
  });

  test('fails when the VPC has no public subnets for the load balancer, naming the vpc prop and the load balancer', () => {
    const vpc = (s: Stack) => new ec2.Vpc(s, 'Vpc', {
      subnetConfiguration: [{ name: 'Web', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    expect(build((s) => ({ vpc: vpc(s), vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } })))
      .toThrow(/vpc has no public subnets\. The site's internet-facing load balancer needs public subnets .* in two or more Availability Zones/);
  });

  test('fails when the VPC has public subnets in one AZ only', () => {
    expect(build((s) => {
      const vpc = new ec2.Vpc(s, 'Vpc', { maxAzs: 2 });
      // As a VPC whose second public subnet is gone: an ALB needs two AZs, and fails at deploy without them.
      Object.defineProperty(vpc, 'publicSubnets', { value: [vpc.publicSubnets[0]] });
      return { vpc };
    })).toThrow(/vpc has public subnets in one Availability Zone only\. The site's internet-facing load balancer/);
  });

  test('fails when EFS mount targets would miss an AZ the instances run in', () => {
    // GIVEN a three-AZ VPC in a concrete environment, and data subnets in two of the AZs
    const stack = new Stack(new App(), 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3 });
    // THEN the site refuses, naming both props
    expect(() => new ScalableWordPress(stack, 'Site', { vpc, dataSubnets: { subnets: vpc.privateSubnets.slice(0, 2) } }))
      .toThrow(/vpcSubnets puts instances in dummy1c, where dataSubnets has no subnet \(it covers dummy1a, dummy1b\)\. .* Widen dataSubnets to every AZ of vpcSubnets/);
    // AND the same layout is fine when the instances stay in the AZs of the mount targets
    const stack2 = new Stack(new App(), 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
    const vpc2 = new ec2.Vpc(stack2, 'Vpc', { maxAzs: 3 });
    expect(() => new ScalableWordPress(stack2, 'Site', {
      vpc: vpc2,
      vpcSubnets: { subnets: vpc2.privateSubnets.slice(0, 2) },
      dataSubnets: { subnets: vpc2.privateSubnets.slice(0, 2) },
    })).not.toThrow();
  });

  test.each(['t3.nano', 't3.micro', 't4g.micro'])('fails when instanceType is %s, too small for the PHP-FPM pool', (name) => {
    expect(build(() => ({ instanceType: new ec2.InstanceType(name) })))
      .toThrow(new RegExp(`instanceType is ${name.replace('.', '\\.')}, with \\d+ MiB of memory, but each instance needs at least 2 GiB.* e\\.g\\. t3\\.small`));
  });

  test('accepts t3.small, the smallest burstable size with 2 GiB', () => {
    expect(build(() => ({ instanceType: new ec2.InstanceType('t3.small') }))).not.toThrow();
  });

  test.each([
    [{ adminUsername: '' }, /adminUsername is '', but WordPress usernames are 1 to 60 letters/],
    [{ adminUsername: 'bob<script>' }, /adminUsername is 'bob<script>'/],
    [{ adminUsername: ' admin' }, /adminUsername is ' admin'.*no space at either end/],
    [{ adminEmail: 'not-an-email' }, /adminEmail is 'not-an-email', but WordPress needs an email address, e\.g\. 'admin@example\.com'/],
    [{ adminEmail: 'admin@localhost' }, /adminEmail is 'admin@localhost'/],
  ])('fails on admin %p', (props, message) => {
    expect(build(() => props)).toThrow(message);
  });

  test.each([
    [{ adminUsername: 'jane.doe@example' }],
    [{ adminEmail: 'jane+blog@mail.example.co.uk' }],
  ])('accepts admin %p', (props) => {
    expect(build(() => props)).not.toThrow();
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

  test('a page cache longer than 10 minutes, which only posts and approved comments purge', () => {
    const { stack } = synth({ pageCacheTtl: Duration.hours(1) });
    Annotations.fromStack(stack).hasWarning('/Test/Site', Match.stringLikeRegexp('pageCacheTtl is 3600 s: after a change that purges nothing .* only posts and approved comments purge the cache'));
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
