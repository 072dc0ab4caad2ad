import { Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AuroraReaderType, ScalableWordPress, WordPressDatabase, WordPressMedia } from '../src';
import { synth, synthWith, userDataOf, zone } from './util';

/** Logical IDs of the resources `type` in the template. */
function idsOf(template: Template, type: string): string[] {
  return Object.keys(template.findResources(type));
}

/** Security group IDs (as Fn::GetAtt GroupId) allowed in by the ingress rules of security group `groupLogicalId`. */
function ingressSources(template: Template, groupLogicalId: string) {
  const rules = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress', {
    Properties: { GroupId: { 'Fn::GetAtt': [groupLogicalId, 'GroupId'] } },
  })).map((r) => r.Properties);
  const inline = (template.findResources('AWS::EC2::SecurityGroup')[groupLogicalId].Properties.SecurityGroupIngress ?? []);
  return [...rules, ...inline];
}

function onlyId(template: Template, type: string, props?: any): string {
  const ids = Object.keys(template.findResources(type, props));
  expect(ids).toHaveLength(1);
  return ids[0];
}

describe('a bare ScalableWordPress', () => {
  const { stack, site, template } = synth();

  test('creates its own VPC over two AZs with public, private and isolated subnets', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1);
    const subnets = Object.values(template.findResources('AWS::EC2::Subnet')).map((s) => s.Properties);
    expect(subnets).toHaveLength(6);
    const types = subnets.map((s) => s.Tags.find((t: any) => t.Key === 'aws-cdk:subnet-type').Value).sort();
    expect(types).toEqual(['Isolated', 'Isolated', 'Private', 'Private', 'Public', 'Public']);
    expect(new Set(subnets.map((s) => JSON.stringify(s.AvailabilityZone))).size).toBe(2);
    template.resourceCountIs('AWS::EC2::NatGateway', 2);
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
  });

  test('uses RDS Multi-AZ and EFS by default', () => {
    // A full minor version: CloudFormation's template validation (on in `cdk init` apps) rejects a major-only '8.4'.
    template.hasResourceProperties('AWS::RDS::DBInstance', { MultiAZ: true, Engine: 'mysql', EngineVersion: '8.4.8', AutoMinorVersionUpgrade: true });
    template.resourceCountIs('AWS::RDS::DBCluster', 0);
    template.resourceCountIs('AWS::EFS::FileSystem', 1);
    template.resourceCountIs('AWS::EC2::Volume', 0);
  });

  test('runs m5.large instances from the official Debian 13 AMI with IMDSv2, no key pair and an encrypted root volume', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        InstanceType: 'm5.large',
        MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: Match.objectLike({ Encrypted: true, VolumeType: 'gp3' }) }],
        ImageId: { Ref: Match.stringLikeRegexp('SsmParameterValue.*debian.*amd64') },
      }),
    });
    const lt = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0];
    expect(lt.Properties.LaunchTemplateData.KeyName).toBeUndefined();
    const params = template.toJSON().Parameters;
    const amiParam = Object.values(params).find((p: any) => p.Type === 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>') as any;
    expect(amiParam.Default).toBe('/aws/service/debian/release/13/latest/amd64');
  });

  test('picks the arm64 Debian image for a Graviton instance type', () => {
    const graviton = synth({ instanceType: new ec2.InstanceType('m7g.large') }).template;
    const params = Object.values(graviton.toJSON().Parameters) as any[];
    expect(params.map((p) => p.Default)).toContain('/aws/service/debian/release/13/latest/arm64');
  });

  test('runs two to four instances in the private subnets of both AZs', () => {
    const privateSubnets = stack.resolve(site.vpc.privateSubnets.map((s) => s.subnetId));
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MinSize: '2',
      MaxSize: '4',
      VPCZoneIdentifier: privateSubnets,
      HealthCheckType: 'ELB',
    });
    expect(privateSubnets).toHaveLength(2);
  });

  test('waits for instance signals on creation and rolls updates one instance at a time', () => {
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      CreationPolicy: { ResourceSignal: { Count: 2, Timeout: 'PT20M' } },
      UpdatePolicy: {
        AutoScalingRollingUpdate: Match.objectLike({ MaxBatchSize: 1, MinInstancesInService: 2, WaitOnResourceSignals: true }),
      },
    });
  });

  test('scales by target tracking on CPU and on requests per target', () => {
    template.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'ASGAverageCPUUtilization' },
        TargetValue: 60,
      }),
    });
    template.hasResourceProperties('AWS::AutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingConfiguration: Match.objectLike({
        PredefinedMetricSpecification: Match.objectLike({ PredefinedMetricType: 'ALBRequestCountPerTarget' }),
        TargetValue: 1200,
      }),
    });
  });

  test('puts an internet-facing, dual-stack load balancer in the public subnets', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      IpAddressType: 'dualstack',
      Subnets: stack.resolve(site.vpc.publicSubnets.map((s) => s.subnetId)),
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' }]),
    });
  });

  test('opens the load balancer on port 80 only, serving HTTP, without a domain', () => {
    const lbSg = stack.resolve((site.loadBalancer.connections.securityGroups[0].node.defaultChild as ec2.CfnSecurityGroup).logicalId);
    const ports = ingressSources(template, lbSg).map((r: any) => [r.FromPort, r.ToPort, r.CidrIp ?? r.CidrIpv6]);
    expect(ports.sort()).toEqual([[80, 80, '0.0.0.0/0'], [80, 80, '::/0']]);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
    expect(stack.resolve(site.url)).toEqual({ 'Fn::Join': ['', ['http://', { 'Fn::GetAtt': [expect.any(String), 'DNSName'] }]] });
  });

  test('lets only the load balancer reach the instances, on port 80, and allows no SSH anywhere', () => {
    const webSg = onlyId(template, 'AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('^WordPress instances') } });
    const sources = ingressSources(template, webSg);
    expect(sources).toHaveLength(1);
    expect(sources[0]).toMatchObject({ FromPort: 80, ToPort: 80, SourceSecurityGroupId: { 'Fn::GetAtt': [expect.any(String), 'GroupId'] } });
    const lbSg = stack.resolve(site.loadBalancer.connections.securityGroups[0].securityGroupId);
    expect(sources[0].SourceSecurityGroupId).toEqual(lbSg);
    const json = JSON.stringify(template.toJSON());
    expect(json).not.toMatch(/"FromPort":22\b/);
  });

  test('checks instance health on a path that does not touch the database', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckPath: ScalableWordPress.HEALTH_CHECK_PATH,
      Matcher: { HttpCode: '200' },
      Port: 80,
      Protocol: 'HTTP',
    });
    expect(ScalableWordPress.HEALTH_CHECK_PATH).toBe('/healthz.php');
  });

  test('lets only the web tier reach the database and the file system, on their ports and nothing else', () => {
    const webSg = stack.resolve(site.connections.securityGroups[0].securityGroupId);
    // MySQL's port as a literal: the endpoint's port attribute is a token, which compliance rule checkers cannot read.
    for (const [construct, port] of [[site.databaseInstance!, 3306], [site.fileSystem!, 2049]] as const) {
      const [sg] = construct.connections.securityGroups;
      const logicalId = stack.resolve((sg.node.defaultChild as ec2.CfnSecurityGroup).logicalId);
      // Every rule, in full: an extra rule (0.0.0.0/0, ::/0, a prefix list) or an extra field fails here.
      expect(ingressSources(template, logicalId)).toStrictEqual([{
        Description: 'WordPress instances',
        GroupId: { 'Fn::GetAtt': [logicalId, 'GroupId'] },
        IpProtocol: 'tcp',
        FromPort: port,
        ToPort: port,
        SourceSecurityGroupId: webSg,
      }]);
    }
  });

  test('lets the instances reach the internet over IPv4 and IPv6, since the VPC gives them an IPv6 default route', () => {
    const webSg = onlyId(template, 'AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('^WordPress instances') } });
    const egress = template.toJSON().Resources[webSg].Properties.SecurityGroupEgress.map((r: any) => [r.IpProtocol, r.CidrIp ?? r.CidrIpv6]);
    expect(egress.sort()).toEqual([['-1', '0.0.0.0/0'], ['-1', '::/0']]);
  });

  test('starts instances only once the EFS mount targets exist', () => {
    const mountTargets = idsOf(template, 'AWS::EFS::MountTarget');
    expect(mountTargets).toHaveLength(2);
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', { DependsOn: Match.arrayWith(mountTargets) });
  });

  test('downloads the RDS CA bundle of its region from the host of its partition', () => {
    // Environment-agnostic: CloudFormation picks the host by partition.
    const userData = userDataOf(template);
    expect(userData).toContain("WP_DB_CA_BUNDLE_URL='https://${{\"Fn::FindInMap\":[\"ScalableWordPressRdsCaBundleHosts\",{\"Ref\":\"AWS::Partition\"},\"host\"]}}/${Ref:AWS::Region}/${Ref:AWS::Region}-bundle.pem'");
    expect(template.toJSON().Mappings.ScalableWordPressRdsCaBundleHosts).toEqual({
      'aws': { host: 'truststore.pki.rds.amazonaws.com' },
      'aws-us-gov': { host: 'truststore.pki.us-gov-west-1.rds.amazonaws.com' },
      'aws-cn': { host: 'rds-truststore.s3.cn-north-1.amazonaws.com.cn' },
    });
    // A known region gets its URL as a literal, and no mapping.
    for (const [region, url] of [
      ['eu-west-1', 'https://truststore.pki.rds.amazonaws.com/eu-west-1/eu-west-1-bundle.pem'],
      ['us-gov-east-1', 'https://truststore.pki.us-gov-west-1.rds.amazonaws.com/us-gov-east-1/us-gov-east-1-bundle.pem'],
    ]) {
      const t = synth({}, { env: { region } }).template;
      expect(userDataOf(t)).toContain(`WP_DB_CA_BUNDLE_URL='${url}'`);
      expect(t.toJSON().Mappings).toBeUndefined();
    }
  });

  test('puts the database and the EFS mount targets in the isolated subnets', () => {
    const isolated = stack.resolve(site.vpc.isolatedSubnets.map((s) => s.subnetId));
    template.hasResourceProperties('AWS::RDS::DBSubnetGroup', { SubnetIds: isolated });
    const mountTargets = Object.values(template.findResources('AWS::EFS::MountTarget')).map((m) => m.Properties.SubnetId);
    expect(mountTargets.sort(byJson)).toEqual([...isolated].sort(byJson));
  });

  test('encrypts the database, keeps backups, requires TLS, protects it from deletion and snapshots it on delete', () => {
    template.hasResource('AWS::RDS::DBInstance', {
      Properties: Match.objectLike({
        StorageEncrypted: true,
        BackupRetentionPeriod: 7,
        DeletionProtection: true,
        DBInstanceClass: 'db.m5.large',
        PubliclyAccessible: false,
      }),
      DeletionPolicy: 'Snapshot',
      UpdateReplacePolicy: 'Snapshot',
    });
    template.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: Match.objectLike({ require_secure_transport: 'ON' }),
    });
  });

  test('encrypts the file system, with elastic throughput, TLS-only access, and retains it (backed up by the site\'s plan, not AWS Backup\'s default one)', () => {
    template.hasResource('AWS::EFS::FileSystem', {
      Properties: Match.objectLike({
        Encrypted: true,
        ThroughputMode: 'elastic',
        BackupPolicy: { Status: 'DISABLED' },
        FileSystemPolicy: Match.objectLike({
          Statement: Match.arrayWith([Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          })]),
        }),
      }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('generates the database credentials, keys and salts, and the admin password in Secrets Manager, and retains them', () => {
    const secrets = template.findResources('AWS::SecretsManager::Secret');
    expect(Object.keys(secrets)).toHaveLength(3);
    for (const secret of Object.values(secrets)) {
      expect(secret.Properties.GenerateSecretString).toBeDefined();
      expect(secret.Properties.SecretString).toBeUndefined();
      expect(secret.DeletionPolicy).toBe('Retain');
    }
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 512, IncludeSpace: false },
    });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'password', SecretStringTemplate: '{"username":"wpadmin","email":"admin@example.com"}' }),
    });
  });

  test('gives the instance role only what it needs: its own secrets, signalling its own stack, writing its own logs, and SSM', () => {
    const role = onlyId(template, 'AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })] }) } });
    template.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonSSMManagedInstanceCore']] }],
    });
    const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy', { Properties: { Roles: [{ Ref: role }] } }));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const secretArns = [site.databaseSecret, site.saltsSecret, site.adminSecret].map((s) => stack.resolve(s.secretArn));
    const actions = statements.flatMap((s) => [].concat(s.Action));
    expect(new Set(actions)).toEqual(new Set([
      'secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret', 'cloudformation:DescribeStackResource', 'cloudformation:SignalResource',
      'logs:CreateLogStream', 'logs:PutLogEvents',
    ]));
    const logGroupArns = site.logGroups.map((g) => stack.resolve(g.logGroupArn));
    // The boot files come from this stack's template, and signals go to this stack: nothing else in CloudFormation.
    const cloudformation = statements.filter((st) => [].concat(st.Action).some((a: string) => a.startsWith('cloudformation:')));
    expect(cloudformation).toEqual(expect.arrayContaining([
      { Action: 'cloudformation:SignalResource', Effect: 'Allow', Resource: { Ref: 'AWS::StackId' } },
      { Action: 'cloudformation:DescribeStackResource', Effect: 'Allow', Resource: { Ref: 'AWS::StackId' } },
    ]));
    expect(cloudformation).toHaveLength(2);
    for (const statement of statements) {
      expect(statement.Resource).not.toEqual('*');
      if ([].concat(statement.Action).includes('secretsmanager:GetSecretValue' as never)) {
        expect(secretArns).toContainEqual(statement.Resource);
      } else if ([].concat(statement.Action).includes('logs:PutLogEvents' as never)) {
        expect(logGroupArns).toContainEqual(statement.Resource);
      } else {
        expect(statement.Resource).toEqual({ Ref: 'AWS::StackId' });
      }
    }
  });

  test('passes pageCacheTtl to the instances in seconds, 0 turning the cache off', () => {
    for (const [ttl, seconds] of [[Duration.minutes(5), '300'], [Duration.seconds(0), '0']] as const) {
      expect(userDataOf(synth({ pageCacheTtl: ttl }).template)).toContain(`WP_PAGE_CACHE_SECONDS='${seconds}'`);
    }
  });

  test('writes the boot inputs into the user data: secret ARNs, endpoints, file system, signal target', () => {
    const userData = userDataOf(template);
    const asgId = idsOf(template, 'AWS::AutoScaling::AutoScalingGroup')[0];
    const fsId = idsOf(template, 'AWS::EFS::FileSystem')[0];
    const dbId = idsOf(template, 'AWS::RDS::DBInstance')[0];
    expect(userData).toMatch(/^#!\/bin\/bash\n/);
    expect(userData).toContain(`WP_SIGNAL_RESOURCE='${asgId}'`);
    expect(userData).toContain("WP_STACK_NAME='Test'");
    expect(userData).toContain("WP_REGION='${Ref:AWS::Region}'");
    expect(userData).toContain(`WP_EFS_ID='\${Ref:${fsId}}'`);
    expect(userData).toContain(`WP_DB_WRITER_HOST='\${GetAtt:${dbId}.Endpoint.Address}'`);
    expect(userData).toContain("WP_DB_READER_HOST=''");
    expect(userData).toContain("WP_MEDIA='efs'");
    expect(userData).toContain("WP_DB_ENGINE='mysql'");
    expect(userData).toContain(`WP_HEALTH_CHECK_PATH='${ScalableWordPress.HEALTH_CHECK_PATH}'`);
    expect(userData).toContain("WP_PAGE_CACHE_SECONDS='60'");
    for (const secret of [site.databaseSecret, site.saltsSecret, site.adminSecret]) {
      const ref = stack.resolve(secret.secretArn).Ref;
      expect(userData).toMatch(new RegExp(`WP_[A-Z_]+_SECRET_ARN='\\$\\{Ref:${ref}\\}'`));
    }
  });

  test('outputs the site URL and the admin secret ARN, never its value', () => {
    const outputs = template.toJSON().Outputs;
    const values = Object.values(outputs).map((o: any) => o.Value);
    expect(values).toContainEqual(stack.resolve(site.adminSecret.secretArn));
    expect(values).toContainEqual(stack.resolve(site.url));
    expect(Object.keys(outputs)).toHaveLength(2);
  });
});

describe('database: Aurora with read replicas', () => {
  test('creates one writer and the readers, spread over the AZs, with TLS required', () => {
    const { template } = synth({ database: WordPressDatabase.auroraReplicas({ readers: 3 }) });
    template.resourceCountIs('AWS::RDS::DBInstance', 4);
    template.resourceCountIs('AWS::RDS::DBCluster', 1);
    template.hasResource('AWS::RDS::DBCluster', {
      Properties: Match.objectLike({ Engine: 'aurora-mysql', StorageEncrypted: true, DeletionProtection: true, BackupRetentionPeriod: 7 }),
      DeletionPolicy: 'Snapshot',
    });
    template.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
      Parameters: Match.objectLike({ require_secure_transport: 'ON' }),
    });
    const instances = Object.values(template.findResources('AWS::RDS::DBInstance')).map((i) => i.Properties);
    expect(instances.every((i) => i.DBInstanceClass === 'db.r6g.large')).toBe(true);
    const azs = instances.map((i) => JSON.stringify(i.AvailabilityZone));
    expect(new Set(azs).size).toBe(2);
    expect(instances.filter((i) => i.PromotionTier === 1)).toHaveLength(3);
  });

  test('defaults to one reader', () => {
    const { template } = synth({ database: WordPressDatabase.auroraReplicas() });
    template.resourceCountIs('AWS::RDS::DBInstance', 2);
  });

  test('gives WordPress the reader endpoint as well as the writer', () => {
    const { template, site } = synth({ database: WordPressDatabase.auroraReplicas({ readers: 2 }) });
    const clusterId = idsOf(template, 'AWS::RDS::DBCluster')[0];
    const userData = userDataOf(template);
    expect(userData).toContain(`WP_DB_WRITER_HOST='\${GetAtt:${clusterId}.Endpoint.Address}'`);
    expect(userData).toContain(`WP_DB_READER_HOST='\${GetAtt:${clusterId}.ReadEndpoint.Address}'`);
    expect(userData).toContain("WP_DB_ENGINE='aurora-mysql'");
    expect(site.databaseReaderEndpoint).toBeDefined();
    expect(site.databaseCluster).toBeDefined();
    expect(site.databaseInstance).toBeUndefined();
  });

  test('can use Serverless v2 readers', () => {
    const { template } = synth({
      database: WordPressDatabase.auroraReplicas({ readers: 2, readerType: AuroraReaderType.SERVERLESS_V2, serverlessV2MaxCapacity: 16 }),
    });
    template.resourceCountIs('AWS::RDS::DBInstance', 3);
    template.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless' });
    template.hasResourceProperties('AWS::RDS::DBCluster', { ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 } });
  });

  test('lets only the web tier reach the cluster', () => {
    const { template, site, stack } = synth({ database: WordPressDatabase.auroraReplicas() });
    const [sg] = site.databaseCluster!.connections.securityGroups;
    const sources = ingressSources(template, stack.resolve((sg.node.defaultChild as ec2.CfnSecurityGroup).logicalId));
    expect(sources.map((s: any) => s.SourceSecurityGroupId)).toEqual([stack.resolve(site.connections.securityGroups[0].securityGroupId)]);
  });
});

describe('media: EBS for a single instance', () => {
  const { stack, site, template } = synth({ media: WordPressMedia.ebs() });

  test('creates an encrypted, retained gp3 volume in the AZ of the one instance', () => {
    template.hasResource('AWS::EC2::Volume', {
      Properties: Match.objectLike({ Encrypted: true, Size: 50, VolumeType: 'gp3' }),
      DeletionPolicy: 'Retain',
    });
    template.resourceCountIs('AWS::EFS::FileSystem', 0);
    const firstPrivate = site.vpc.privateSubnets[0];
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MinSize: '1',
      MaxSize: '1',
      VPCZoneIdentifier: [stack.resolve(firstPrivate.subnetId)],
    });
    template.hasResourceProperties('AWS::EC2::Volume', { AvailabilityZone: stack.resolve(firstPrivate.availabilityZone) });
  });

  test('stops the old instance before the new one attaches the volume, and does not scale', () => {
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      UpdatePolicy: { AutoScalingRollingUpdate: Match.objectLike({ MinInstancesInService: 0, MaxBatchSize: 1 }) },
      CreationPolicy: { ResourceSignal: { Count: 1, Timeout: 'PT20M' } },
    });
    template.resourceCountIs('AWS::AutoScaling::ScalingPolicy', 0);
  });

  test('lets instances attach only a volume and instances that carry the site tag', () => {
    const volume = Object.values(template.findResources('AWS::EC2::Volume'))[0].Properties;
    const [tagKey, tagValue] = volume.Tags.filter((t: any) => t.Key.startsWith('VolumeGrantAttach-')).map((t: any) => [t.Key, t.Value])[0];
    const asg = Object.values(template.findResources('AWS::AutoScaling::AutoScalingGroup'))[0].Properties;
    expect(asg.Tags).toContainEqual({ Key: tagKey, Value: tagValue, PropagateAtLaunch: true });
    const attachCondition = { [`ec2:ResourceTag/${tagKey}`]: tagValue };
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: 'ec2:AttachVolume',
          // The tag the construct puts on both the volume and the Auto Scaling group's instances, exactly.
          Condition: { 'ForAnyValue:StringEquals': Match.exact(attachCondition) },
        })]),
      },
    });
    const userData = userDataOf(template);
    expect(userData).toContain(`WP_EBS_VOLUME_ID='\${Ref:${idsOf(template, 'AWS::EC2::Volume')[0]}}'`);
    expect(userData).toContain("WP_MEDIA='ebs'");
  });

  test('takes the volume size from the options', () => {
    const t = synth({ media: WordPressMedia.ebs({ size: Size.gibibytes(100) }) }).template;
    t.hasResourceProperties('AWS::EC2::Volume', { Size: 100 });
  });
});

describe('domain and HTTPS', () => {
  const { stack, site, template } = synthWith((s) => ({ domainName: 'blog.example.com', domainZone: zone(s) }));

  test('serves HTTPS with a DNS-validated certificate and redirects HTTP to it', () => {
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'blog.example.com',
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: 'blog.example.com', HostedZoneId: 'Z0000000EXAMPLE' }],
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: { Ref: Match.anyValue() } }],
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      DefaultActions: [{ Type: 'redirect', RedirectConfig: Match.objectLike({ Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' }) }],
    });
    expect(site.url).toBe('https://blog.example.com');
    expect(userDataOf(template)).toContain("WP_SITE_URL='https://blog.example.com'");
  });

  test('opens the load balancer on 80 and 443 only', () => {
    const lbSg = stack.resolve((site.loadBalancer.connections.securityGroups[0].node.defaultChild as ec2.CfnSecurityGroup).logicalId);
    const ports = new Set(ingressSources(template, lbSg).map((r: any) => r.FromPort));
    expect(ports).toEqual(new Set([80, 443]));
  });

  test('creates A and AAAA alias records and a Route 53 health check on the health path', () => {
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'blog.example.com.', Type: 'A', AliasTarget: Match.anyValue() });
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'blog.example.com.', Type: 'AAAA', AliasTarget: Match.anyValue() });
    template.hasResourceProperties('AWS::Route53::HealthCheck', {
      HealthCheckConfig: Match.objectLike({
        Type: 'HTTPS',
        FullyQualifiedDomainName: 'blog.example.com',
        ResourcePath: ScalableWordPress.HEALTH_CHECK_PATH,
        Port: 443,
      }),
    });
  });

  test('uses a given certificate instead of creating one', () => {
    const t = synthWith((s) => ({
      domainName: 'blog.example.com',
      domainZone: zone(s),
      certificate: acm.Certificate.fromCertificateArn(s, 'Cert', 'arn:aws:acm:eu-west-1:111111111111:certificate/abc'),
    })).template;
    t.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Certificates: [{ CertificateArn: 'arn:aws:acm:eu-west-1:111111111111:certificate/abc' }],
    });
  });
});

describe('an existing VPC', () => {
  test('is used as it is; the load balancer is IPv4 and there is no AAAA record', () => {
    const { template } = synthWith((s) => ({
      vpc: new ec2.Vpc(s, 'Existing', { maxAzs: 2, natGateways: 1 }),
      domainName: 'example.com',
      domainZone: zone(s),
    }));
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::FlowLog', 0);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { IpAddressType: 'ipv4' });
    // The A record, and the three DKIM records of the domain's SES identity; no AAAA.
    expect(Object.values<any>(template.findResources('AWS::Route53::RecordSet')).map((r) => r.Properties.Type).sort()).toEqual(['A', 'CNAME', 'CNAME', 'CNAME']);
  });

  test('without isolated subnets puts the data tier in the private subnets', () => {
    const { stack, site, template } = synthWith((s) => ({ vpc: new ec2.Vpc(s, 'Existing', { maxAzs: 2, natGateways: 1 }) }));
    template.hasResourceProperties('AWS::RDS::DBSubnetGroup', { SubnetIds: stack.resolve(site.vpc.privateSubnets.map((x) => x.subnetId)) });
  });
});

describe('removalPolicy', () => {
  test('DESTROY deletes every stateful resource and turns off deletion protection', () => {
    for (const [database, media] of [
      [WordPressDatabase.rdsMultiAz(), WordPressMedia.efs()],
      [WordPressDatabase.auroraReplicas(), WordPressMedia.ebs()],
    ] as const) {
      const { template } = synth({ database, media, removalPolicy: RemovalPolicy.DESTROY });
      const json = template.toJSON();
      for (const [id, resource] of Object.entries<any>(json.Resources)) {
        if (['AWS::RDS::DBInstance', 'AWS::RDS::DBCluster', 'AWS::EFS::FileSystem', 'AWS::EC2::Volume', 'AWS::SecretsManager::Secret', 'AWS::Logs::LogGroup'].includes(resource.Type)) {
          expect([id, resource.DeletionPolicy ?? 'Delete']).toEqual([id, 'Delete']);
        }
      }
      expect(JSON.stringify(json)).not.toContain('"DeletionProtection":true');
    }
  });
});

describe('access logs', () => {
  test('go to the given bucket', () => {
    const { template } = synthWith((s) => ({ accessLogBucket: new s3.Bucket(s, 'Logs') }), { env: { region: 'eu-west-1', account: '111111111111' } });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.enabled', Value: 'true' }]),
    });
  });
});

describe('exposes its parts', () => {
  test('as readonly fields', () => {
    const { site } = synth({ media: WordPressMedia.ebs() });
    expect(site.volume).toBeDefined();
    expect(site.fileSystem).toBeUndefined();
    expect(site.autoScalingGroup).toBeDefined();
    expect(site.loadBalancer).toBeDefined();
    expect(site.listener).toBeDefined();
    expect(site.targetGroup).toBeDefined();
    expect(site.databaseEndpoint).toBeDefined();
    expect(site.role).toBeDefined();
  });

  test('as an IConnectable for the web tier', () => {
    const stack = new Stack();
    const site = new ScalableWordPress(stack, 'Site');
    const cache = new ec2.SecurityGroup(stack, 'Cache', { vpc: site.vpc });
    cache.connections.allowFrom(site, ec2.Port.tcp(6379), 'from WordPress');
    Template.fromStack(stack).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 6379,
      GroupId: stack.resolve(cache.securityGroupId),
      SourceSecurityGroupId: stack.resolve(site.connections.securityGroups[0].securityGroupId),
    });
  });
});

function byJson(a: unknown, b: unknown) {
  return JSON.stringify(a).localeCompare(JSON.stringify(b));
}
