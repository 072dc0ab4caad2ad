import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { WordPressBackup, WordPressDatabase, WordPressEdge, WordPressMedia } from '../src';
import { synth, synthWith, userDataOf, zone } from './util';

function warnings(stack: Stack, id: string) {
  return Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp(id));
}

/** The site's alarms by their construct ID (the last part of the logical ID before the hash). */
function alarms(template: Template): Record<string, any> {
  const found = template.findResources('AWS::CloudWatch::Alarm');
  return Object.fromEntries(Object.entries<any>(found).map(([id, alarm]) => [id.replace(/^SiteMonitoring/, '').replace(/[0-9A-F]{8}$/, ''), alarm.Properties]));
}

describe('backups', () => {
  test('by default, a daily AWS Backup plan keeps the database and the file system 35 days, in an encrypted vault of its own', () => {
    const { template } = synth({ database: WordPressDatabase.auroraReplicas(), media: WordPressMedia.efs() });
    template.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: {
        BackupPlanRule: [Match.objectLike({
          RuleName: 'Daily',
          ScheduleExpression: 'cron(0 3 * * ? *)',
          Lifecycle: { DeleteAfterDays: 35 },
          TargetBackupVault: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SiteBackupVault'), 'BackupVaultName'] },
        })],
      },
    });
    template.hasResourceProperties('AWS::Backup::BackupVault', {
      EncryptionKeyArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SiteBackupKey'), 'Arn'] },
    });
    template.hasResource('AWS::Backup::BackupVault', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, Description: Match.stringLikeRegexp('backups') });
    const selection = Object.values<any>(template.findResources('AWS::Backup::BackupSelection'))[0].Properties.BackupSelection;
    const resources = JSON.stringify(selection.Resources);
    expect(resources).toMatch(/rds.*cluster.*SiteDatabaseCluster/);
    expect(resources).toMatch(/elasticfilesystem.*file-system.*SiteMediaFileSystem/);
    // The plan covers the file system: AWS Backup's default plan would back it up a second time.
    template.hasResourceProperties('AWS::EFS::FileSystem', { BackupPolicy: { Status: 'DISABLED' } });
  });

  test('covers an RDS instance and the EBS volume', () => {
    const { template } = synth({ database: WordPressDatabase.rdsMultiAz(), media: WordPressMedia.ebs() });
    const selection = Object.values<any>(template.findResources('AWS::Backup::BackupSelection'))[0].Properties.BackupSelection;
    const resources = JSON.stringify(selection.Resources);
    expect(resources).toMatch(/rds.*db:.*SiteDatabaseInstance/);
    expect(resources).toMatch(/ec2.*volume\/.*SiteMediaVolume/);
  });

  test('retention, schedule and a copy to another Region are the user\'s to set', () => {
    const { template } = synthWith((stack) => ({
      backup: WordPressBackup.daily({
        retention: Duration.days(90),
        copyTo: backup.BackupVault.fromBackupVaultArn(stack, 'Far', 'arn:aws:backup:eu-west-1:123456789012:backup-vault:far'),
        copyRetention: Duration.days(30),
      }),
    }), { env: { region: 'us-east-1', account: '123456789012' } });
    template.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: {
        BackupPlanRule: [Match.objectLike({
          Lifecycle: { DeleteAfterDays: 90 },
          CopyActions: [{ DestinationBackupVaultArn: 'arn:aws:backup:eu-west-1:123456789012:backup-vault:far', Lifecycle: { DeleteAfterDays: 30 } }],
        })],
      },
    });
  });

  test('a copy in the site\'s own Region is legal but warned about', () => {
    const { stack } = synthWith((s) => ({
      backup: WordPressBackup.daily({ copyTo: backup.BackupVault.fromBackupVaultArn(s, 'Near', 'arn:aws:backup:us-east-1:123456789012:backup-vault:near') }),
    }), { env: { region: 'us-east-1', account: '123456789012' } });
    expect(warnings(stack, 'backupCopySameRegion')).toHaveLength(1);
  });

  test.each([
    ['retention', { retention: Duration.hours(12) }, /retention is 12 hours.*Duration.days\(N\) with N >= 1/],
    ['copyRetention without copyTo', { copyRetention: Duration.days(10) }, /copyRetention is set but copyTo is not/],
  ])('bad %s fails at synth, naming the prop and the fix', (_name, options, message) => {
    expect(() => synth({ backup: WordPressBackup.daily(options) })).toThrow(message);
  });

  test('none(): no plan, AWS Backup\'s default plan for EFS stays on, and a warning', () => {
    const { stack, template, site } = synth({ backup: WordPressBackup.none(), media: WordPressMedia.efs() });
    template.resourceCountIs('AWS::Backup::BackupPlan', 0);
    template.hasResourceProperties('AWS::EFS::FileSystem', { BackupPolicy: { Status: 'ENABLED' } });
    expect(site.backupPlan).toBeUndefined();
    expect(warnings(stack, 'noBackup')).toHaveLength(1);
  });
});

describe('alarms', () => {
  const { stack, template, site } = synth({ database: WordPressDatabase.auroraReplicas({ readers: 1 }), media: WordPressMedia.efs(), alarmEmail: 'ops@example.com' });
  const found = alarms(template);

  test('each alarm, with its threshold', () => {
    expect(Object.keys(found).sort()).toEqual(['BootFailed', 'DatabaseCpu', 'DatabaseFreeStorage', 'FileSystemIoLimit', 'ReplicaLag', 'ServerErrors',
      'SlowResponses', 'UnhealthyInstances']);
    expect(found.ServerErrors).toMatchObject({ Threshold: 5, EvaluationPeriods: 5, DatapointsToAlarm: 3, ComparisonOperator: 'GreaterThanThreshold' });
    expect(found.ServerErrors.Metrics.find((m: any) => m.Id === 'expr_1').Expression).toBe('100 * (FILL(target5xx, 0) + FILL(lb5xx, 0)) / requests');
    expect(found.SlowResponses).toMatchObject({ Threshold: 3, EvaluationPeriods: 5, ExtendedStatistic: 'p99', MetricName: 'TargetResponseTime' });
    expect(found.UnhealthyInstances).toMatchObject({ Threshold: 1, EvaluationPeriods: 5, MetricName: 'UnHealthyHostCount', ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(found.DatabaseCpu).toMatchObject({ Threshold: 80, EvaluationPeriods: 3, Period: 300, MetricName: 'CPUUtilization', Namespace: 'AWS/RDS' });
    expect(found.DatabaseCpu.Dimensions).toContainEqual({ Name: 'Role', Value: 'WRITER' });
    expect(found.DatabaseFreeStorage).toMatchObject({ Threshold: 2 * 1024 ** 3, MetricName: 'FreeLocalStorage', ComparisonOperator: 'LessThanThreshold' });
    expect(found.ReplicaLag).toMatchObject({ Threshold: 2000, EvaluationPeriods: 5, MetricName: 'AuroraReplicaLag', Statistic: 'Maximum' });
    expect(found.FileSystemIoLimit).toMatchObject({ Threshold: 95, EvaluationPeriods: 3, MetricName: 'PercentIOLimit', Namespace: 'AWS/EFS' });
    for (const alarm of Object.values(found)) {
      expect(alarm.TreatMissingData).toBe('notBreaching');
      expect(alarm.AlarmDescription).toMatch(/What to do: the README/);
    }
    expect(found.BootFailed).toMatchObject({ Threshold: 1, Namespace: 'ScalableWordPress', Statistic: 'Sum', Period: 300 });
    expect(site.alarms).toHaveLength(8);
  });

  test('notify an encrypted topic with the email address subscribed, when they fire and when they recover', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
    for (const alarm of Object.values(found)) {
      expect(alarm.AlarmActions).toEqual([{ Ref: topic }]);
      expect(alarm.OKActions).toEqual([{ Ref: topic }]);
    }
  });

  test('RDS Multi-AZ: free storage, no replica lag (the standby serves no reads); EBS: no file system alarm', () => {
    const rds = alarms(synth({ database: WordPressDatabase.rdsMultiAz(), media: WordPressMedia.ebs() }).template);
    expect(Object.keys(rds).sort()).toEqual(['BootFailed', 'DatabaseCpu', 'DatabaseFreeStorage', 'ServerErrors', 'SlowResponses', 'UnhealthyInstances']);
    expect(rds.DatabaseFreeStorage).toMatchObject({ MetricName: 'FreeStorageSpace', Threshold: 2 * 1024 ** 3 });
  });

  test('a topic the user passes; without one or an email, the site\'s own topic', () => {
    const passed = synthWith((s) => ({ alarmTopic: new sns.Topic(s, 'Pager') }));
    const pager = Object.keys(passed.template.findResources('AWS::SNS::Topic'));
    expect(pager).toEqual([expect.stringMatching(/^Pager/)]);
    for (const alarm of Object.values(alarms(passed.template))) {
      expect(alarm.AlarmActions).toEqual([{ Ref: pager[0] }]);
    }
    // Without either, the alarms still publish to the site's own topic, for the owner to subscribe to later.
    const silent = synth();
    const own = Object.keys(silent.template.findResources('AWS::SNS::Topic'));
    expect(own).toEqual([expect.stringMatching(/^SiteMonitoringAlarmTopic/)]);
    silent.template.resourceCountIs('AWS::SNS::Subscription', 0);
    expect(Object.values(alarms(silent.template))[0].AlarmActions).toEqual([{ Ref: own[0] }]);
    expect(silent.site.alarmTopic).toBeDefined();
  });

  test('the Route 53 health check is alarmed in us-east-1, where its metrics are (and only there)', () => {
    const east = synthWith((s) => ({ domainName: 'www.example.com', domainZone: zone(s), edge: WordPressEdge.cloudFront() }), { env: { region: 'us-east-1' } });
    const check = Object.keys(east.template.findResources('AWS::Route53::HealthCheck'))[0];
    expect(alarms(east.template).HealthCheckFailed).toMatchObject({
      Namespace: 'AWS/Route53',
      MetricName: 'HealthCheckStatus',
      Statistic: 'Minimum',
      Threshold: 1,
      EvaluationPeriods: 2,
      ComparisonOperator: 'LessThanThreshold',
      Dimensions: [{ Name: 'HealthCheckId', Value: { 'Fn::GetAtt': [check, 'HealthCheckId'] } }],
    });
    const west = synthWith((s) => ({ domainName: 'www.example.com', domainZone: zone(s) }), { env: { region: 'eu-west-1' } });
    expect(alarms(west.template).HealthCheckFailed).toBeUndefined();
  });
});

describe('dashboard', () => {
  function widgets(template: Template): string {
    const body = Object.values<any>(template.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody;
    return JSON.stringify(body);
  }

  test('shows traffic, errors, latency, instances, the database, the media and the alarms', () => {
    const { template } = synth({ database: WordPressDatabase.auroraReplicas({ readers: 1 }), media: WordPressMedia.efs() });
    const body = widgets(template);
    for (const title of ['Requests and errors', 'Response time at the load balancer', 'Instances', 'Database CPU', 'Database memory and storage',
      'Replica lag', 'File system', 'Alarms']) {
      expect(body).toContain(title);
    }
    for (const metric of ['RequestCount', 'HTTPCode_Target_5XX_Count', 'TargetResponseTime', 'HealthyHostCount', 'UnHealthyHostCount', 'CPUUtilization',
      'DatabaseConnections', 'FreeableMemory', 'FreeLocalStorage', 'AuroraReplicaLag', 'MeteredIOBytes', 'PercentIOLimit']) {
      expect(body).toContain(metric);
    }
    expect(body).toContain('p99');
  });

  test('behind CloudFront: the edge\'s requests, error rates and cache hit rate (additional metrics on)', () => {
    const { template } = synth({ edge: WordPressEdge.cloudFront() }, { env: { region: 'us-east-1' } });
    const body = widgets(template);
    for (const metric of ['AWS/CloudFront', '5xxErrorRate', 'CacheHitRate', 'OriginLatency']) {
      expect(body).toContain(metric);
    }
    template.resourceCountIs('AWS::CloudFront::MonitoringSubscription', 1);
  });
});

describe('email through SES', () => {
  test('with a zone: the zone\'s domain as an SES identity with its three DKIM records, mail from wordpress@ it, sent only from that address', () => {
    const { template, site } = synthWith((s) => ({ domainName: 'www.example.com', domainZone: zone(s) }));
    template.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'example.com' });
    const identity = Object.keys(template.findResources('AWS::SES::EmailIdentity'))[0];
    for (const i of [1, 2, 3]) {
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Type: 'CNAME',
        Name: { 'Fn::GetAtt': [identity, `DkimDNSTokenName${i}`] },
        ResourceRecords: [{ 'Fn::GetAtt': [identity, `DkimDNSTokenValue${i}`] }],
      });
    }
    expect(site.emailIdentity).toBeDefined();
    expect(userDataOf(template)).toContain("WP_MAIL_FROM='wordpress@example.com'");
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: ['ses:SendEmail', 'ses:SendRawEmail'],
          Condition: { StringEquals: { 'ses:FromAddress': 'wordpress@example.com' } },
        })]),
      },
    });
  });

  test('emailFrom sets the address; one outside the zone is warned about (SES must verify it separately)', () => {
    const inside = synthWith((s) => ({ domainName: 'www.example.com', domainZone: zone(s), emailFrom: 'news@example.com' }));
    expect(userDataOf(inside.template)).toContain("WP_MAIL_FROM='news@example.com'");
    expect(warnings(inside.stack, 'emailFromOtherDomain')).toHaveLength(0);
    const outside = synthWith((s) => ({ domainName: 'www.example.com', domainZone: zone(s), emailFrom: 'news@example.org' }));
    expect(warnings(outside.stack, 'emailFromOtherDomain')).toHaveLength(1);
  });

  test('without a zone: no identity; emailFrom alone sends from an identity verified elsewhere; neither warns that no mail goes out', () => {
    const alone = synth({ emailFrom: 'wordpress@example.net' });
    alone.template.resourceCountIs('AWS::SES::EmailIdentity', 0);
    expect(userDataOf(alone.template)).toContain("WP_MAIL_FROM='wordpress@example.net'");
    const none = synth();
    expect(userDataOf(none.template)).toContain("WP_MAIL_FROM=''");
    expect(warnings(none.stack, 'noEmail')).toHaveLength(1);
    expect(JSON.stringify(none.template.toJSON())).not.toContain('ses:SendEmail');
  });

  test('a malformed emailFrom fails at synth, naming the prop', () => {
    expect(() => synth({ emailFrom: 'wordpress at example.com' })).toThrow(/emailFrom is 'wordpress at example.com', which is not an email address/);
    expect(() => synth({ emailFrom: "o'brien@example.com" })).toThrow(/emailFrom/);
  });
});

describe('logs off the instances', () => {
  const { template, site, stack } = synth();

  test('one log group per kind of log, kept 3 months, encrypted with the site\'s logs key; the instances may write to them only', () => {
    const groups = Object.entries<any>(template.findResources('AWS::Logs::LogGroup')).filter(([id]) => id.startsWith('SiteLogs'));
    expect(groups.map(([id]) => id.replace(/^SiteLogs/, '').replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(['Boot', 'NginxAccess', 'NginxError', 'PhpFpm', 'WordPress']);
    for (const [, group] of groups) {
      expect(group.Properties).toMatchObject({ RetentionInDays: 90, KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^SiteLogsKey/), 'Arn'] } });
      expect(group.DeletionPolicy).toBe('Retain');
    }
    expect(site.logGroups).toHaveLength(5);
    const policy = JSON.stringify(stack.resolve(Object.values<any>(template.findResources('AWS::IAM::ManagedPolicy'))
      .find((p) => p.Properties.Roles.some((r: any) => /SiteInstanceRole/.test(JSON.stringify(r)))).Properties.PolicyDocument));
    for (const [id] of groups) {
      expect(policy).toContain(id);
    }
    expect(policy).toContain('logs:PutLogEvents');
  });

  test('the user data names each group for the shipper, and the boot log counts failed boots', () => {
    const env = /WP_LOG_GROUPS='([^']*)'/.exec(userDataOf(template))![1];
    expect(env.split(' ').map((pair) => pair.split('=')[0])).toEqual(['boot', 'nginx-access', 'nginx-error', 'php-fpm', 'wordpress']);
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '"scalable-wordpress:" "FAILED at line"',
      MetricTransformations: [Match.objectLike({ MetricNamespace: 'ScalableWordPress', MetricValue: '1' })],
    });
  });

  test('the retention is the user\'s to set', () => {
    const { template: t } = synth({ logRetention: logs.RetentionDays.ONE_YEAR });
    const groups = Object.entries<any>(t.findResources('AWS::Logs::LogGroup')).filter(([id]) => id.startsWith('SiteLogs'));
    expect(new Set(groups.map(([, g]) => g.Properties.RetentionInDays))).toEqual(new Set([365]));
  });
});

describe('restoring a site from its backups', () => {
  const SNAPSHOT = 'arn:aws:rds:eu-west-1:123456789012:snapshot:awsbackup:job-0123';

  test('RDS: the database from a snapshot, with the logical ID of a new one and the site secret as its password', () => {
    const { template, stack } = synth({ database: WordPressDatabase.rdsMultiAz({ fromSnapshot: SNAPSHOT }), media: WordPressMedia.ebs({ fromSnapshot: 'snap-0123456789abcdef0' }) });
    const instances = template.findResources('AWS::RDS::DBInstance');
    expect(Object.keys(instances)).toEqual(['SiteDatabaseInstance94D92DB9']);
    const props = Object.values<any>(instances)[0].Properties;
    expect(props.DBSnapshotIdentifier).toBe(SNAPSHOT);
    expect(props.DBName).toBeUndefined();
    expect(JSON.stringify(stack.resolve(props.MasterUserPassword))).toMatch(/SiteDatabaseSecret.*password/);
    template.hasResourceProperties('AWS::EC2::Volume', { SnapshotId: 'snap-0123456789abcdef0', Encrypted: true });
  });

  test('Aurora: the cluster from a cluster snapshot, with the logical ID of a new one', () => {
    const { template } = synth({ database: WordPressDatabase.auroraReplicas({ fromSnapshot: 'wordpress-before-upgrade' }) });
    const clusters = template.findResources('AWS::RDS::DBCluster');
    expect(Object.keys(clusters)).toEqual(['SiteDatabaseCluster71629F65']);
    expect(Object.values<any>(clusters)[0].Properties).toMatchObject({ SnapshotIdentifier: 'wordpress-before-upgrade' });
    expect(Object.values<any>(clusters)[0].Properties.DatabaseName).toBeUndefined();
  });

  test('EFS: the first boot restores a recovery point into the new file system, with a role for AWS Backup and the right to start that restore only', () => {
    const point = 'arn:aws:backup:eu-west-1:123456789012:recovery-point:0A1B2C3D-4E5F-6789-ABCD-EF0123456789';
    const { template } = synth({ media: WordPressMedia.efs({ fromRecoveryPoint: point }) });
    // The file system keeps its logical ID: the restore fills it, it is not a new kind of resource.
    expect(Object.keys(template.findResources('AWS::EFS::FileSystem'))).toEqual(['SiteMediaFileSystemB6859CE0']);
    const restoreRoles = Object.keys(template.findResources('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: Match.objectLike({
          Statement: [Match.objectLike({ Principal: { Service: 'backup.amazonaws.com' } })],
        }),
      },
    })).filter((id) => id.startsWith('SiteMedia'));
    expect(restoreRoles).toHaveLength(1);
    const restoreRole = restoreRoles[0];
    template.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores']] }],
    });
    const policies = template.findResources('AWS::IAM::ManagedPolicy', {
      Properties: {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Action: 'backup:StartRestoreJob', Resource: point }),
            Match.objectLike({ Action: 'iam:PassRole', Resource: { 'Fn::GetAtt': [restoreRole, 'Arn'] } }),
          ]),
        },
      },
    });
    const [policyId] = Object.keys(policies);
    expect(policyId).toBeDefined();
    // Every instance boots with the right already attached.
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', { DependsOn: Match.arrayWith([policyId]) });
    const userData = userDataOf(template);
    expect(userData).toContain(`WP_MEDIA_RECOVERY_POINT='${point}'`);
    expect(userData).toContain(`WP_MEDIA_RESTORE_ROLE_ARN='\${GetAtt:${restoreRole}.Arn}'`);
    expect(userDataOf(synth().template)).toContain("WP_MEDIA_RECOVERY_POINT=''");
  });

  test('a recovery point that is not one fails at synth, naming the prop', () => {
    expect(() => synth({ media: WordPressMedia.efs({ fromRecoveryPoint: 'arn:aws:rds:eu-west-1:123456789012:snapshot:awsbackup:job-0123' }) }))
      .toThrow(/WordPressMedia.efs\(\{ fromRecoveryPoint \}\) is 'arn:aws:rds:.*', but it must be an AWS Backup recovery point ARN/);
  });

  test('an EBS snapshot ID that is not one fails at synth, naming the prop', () => {
    expect(() => synth({ media: WordPressMedia.ebs({ fromSnapshot: 'vol-0123456789abcdef0' }) }))
      .toThrow(/WordPressMedia.ebs\(\{ fromSnapshot \}\) is 'vol-0123456789abcdef0', which is not an EBS snapshot ID/);
  });
});

test.each([
  ['RDS', WordPressDatabase.rdsMultiAz(), 'AWS::RDS::DBInstance'],
  ['Aurora', WordPressDatabase.auroraReplicas(), 'AWS::RDS::DBCluster'],
])('%s: removalPolicy SNAPSHOT snapshots the database alone; the keys, the vault and the rest it keeps are retained', (_name, database, snapshotType) => {
  // CloudFormation snapshots only some resource types; a Snapshot policy on a key or a vault is not one of them.
  const { template } = synth({ database, removalPolicy: RemovalPolicy.SNAPSHOT, alarmEmail: 'ops@example.com' });
  const snapshotted = Object.values<any>(template.toJSON().Resources).filter((r) => r.DeletionPolicy === 'Snapshot').map((r) => r.Type);
  expect(snapshotted).toEqual([snapshotType]);
  for (const type of ['AWS::KMS::Key', 'AWS::Backup::BackupVault']) {
    for (const resource of Object.values<any>(template.findResources(type))) {
      expect([type, resource.DeletionPolicy]).toEqual([type, 'Retain']);
    }
  }
});
