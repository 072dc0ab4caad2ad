import { Match } from 'aws-cdk-lib/assertions';
import { WordPressDatabase, WordPressMedia, WordPressObjectCache } from '../src';
import { synth, userDataOf } from './util';

const cached = { objectCache: WordPressObjectCache.serverless() };

describe('the object cache', () => {
  test('is off by default', () => {
    synth().template.resourceCountIs('AWS::ElastiCache::ServerlessCache', 0);
  });

  test('serverless() is ElastiCache Serverless for Valkey 8, encrypted with the site key, capped at 1 GB', () => {
    const { template } = synth(cached);
    template.resourceCountIs('AWS::ElastiCache::ServerlessCache', 1);
    template.hasResourceProperties('AWS::ElastiCache::ServerlessCache', {
      Engine: 'valkey',
      MajorEngineVersion: '8',
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SiteSecretsKey'), 'Arn'] },
      CacheUsageLimits: { DataStorage: { Maximum: 1, Unit: 'GB' } },
      UserGroupId: { Ref: Match.stringLikeRegexp('^SiteObjectCacheUserGroup') },
    });
  });

  test('sits in the data subnets, one per AZ', () => {
    const { template } = synth(cached);
    const [cache] = Object.values<any>(template.findResources('AWS::ElastiCache::ServerlessCache'));
    const isolated = Object.entries<any>(template.findResources('AWS::EC2::Subnet'))
      .filter(([, subnet]) => subnet.Properties.Tags.some((tag: any) => tag.Key === 'aws-cdk:subnet-type' && tag.Value === 'Isolated'))
      .map(([id]) => ({ Ref: id }));
    expect(isolated).toHaveLength(2);
    expect(cache.Properties.SubnetIds).toEqual(isolated);
  });

  test('is reachable from the instances only, on Valkey\'s port', () => {
    const { template } = synth(cached);
    const [cache] = Object.values<any>(template.findResources('AWS::ElastiCache::ServerlessCache'));
    const [groupRef] = cache.Properties.SecurityGroupIds;
    const groupId = groupRef['Fn::GetAtt'][0];
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'WordPress object cache: Valkey from the WordPress instances only',
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '255.255.255.255/32' })], // CDK's "no egress" rule
    });
    const ingress = Object.values<any>(template.findResources('AWS::EC2::SecurityGroupIngress'))
      .filter((rule) => rule.Properties.GroupId['Fn::GetAtt']?.[0] === groupId);
    expect(ingress).toHaveLength(1);
    expect(ingress[0].Properties).toEqual(expect.objectContaining({
      IpProtocol: 'tcp',
      FromPort: 6379,
      ToPort: 6379,
      SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/^SiteWebSecurityGroup/), 'GroupId'] },
    }));
  });

  test('WordPress authenticates as a user of its own, without dangerous commands; the default user is off', () => {
    const { template } = synth(cached);
    template.hasResourceProperties('AWS::ElastiCache::User', {
      Engine: 'valkey',
      UserName: 'wordpress',
      AccessString: 'on ~* +@all -@dangerous',
      Passwords: [Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('^\\{\\{resolve:secretsmanager:')])] })],
    });
    template.hasResourceProperties('AWS::ElastiCache::User', { Engine: 'valkey', UserName: 'default', AccessString: 'off -@all' });
    const [group] = Object.values<any>(template.findResources('AWS::ElastiCache::UserGroup'));
    expect(group.Properties.UserIds).toHaveLength(2);
    expect(group.DependsOn).toEqual(expect.arrayContaining([
      expect.stringMatching(/^SiteObjectCacheUser[0-9A-F]{8}$/), expect.stringMatching(/^SiteObjectCacheDefaultUser/),
    ]));
  });

  test('its names follow ElastiCache\'s rules: lower case, a letter first, at most 40 characters', () => {
    const { template } = synth(cached);
    const [cache] = Object.values<any>(template.findResources('AWS::ElastiCache::ServerlessCache'));
    const names = [cache.Properties.ServerlessCacheName,
      ...Object.values<any>(template.findResources('AWS::ElastiCache::User')).map((user) => user.Properties.UserId),
      ...Object.values<any>(template.findResources('AWS::ElastiCache::UserGroup')).map((group) => group.Properties.UserGroupId)];
    for (const name of names) {
      expect(name).toMatch(/^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$/);
      expect(name.length).toBeLessThanOrEqual(40);
    }
  });

  test('the instances get its endpoint and the ARN of its secret, read that secret, and boot after the cache exists', () => {
    const { template } = synth({ database: WordPressDatabase.auroraReplicas(), media: WordPressMedia.efs(), ...cached });
    const userData = userDataOf(template);
    expect(userData).toMatch(/^WP_CACHE_HOST='\$\{GetAtt:SiteObjectCache[0-9A-F]{8}\.Endpoint\.Address\}'$/m);
    expect(userData).toMatch(/^WP_CACHE_PORT='6379'$/m);
    expect(userData).toMatch(/^WP_CACHE_SECRET_ARN='\$\{Ref:SiteObjectCacheSecret[0-9A-F]{8}\}'$/m);
    const policies = JSON.stringify(template.findResources('AWS::IAM::ManagedPolicy'));
    expect(policies).toMatch(/"Action":\["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"\],"Effect":"Allow","Resource":\{"Ref":"SiteObjectCacheSecret[0-9A-F]{8}"\}/);
    const [asg] = Object.values<any>(template.findResources('AWS::AutoScaling::AutoScalingGroup'));
    expect(asg.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^SiteObjectCache[0-9A-F]{8}$/)]));
  });

  test('takes the limits it is given', () => {
    const { template } = synth({ objectCache: WordPressObjectCache.serverless({ maxDataStorageGb: 5, maxEcpuPerSecond: 5000 }) });
    template.hasResourceProperties('AWS::ElastiCache::ServerlessCache', {
      CacheUsageLimits: { DataStorage: { Maximum: 5, Unit: 'GB' }, ECPUPerSecond: { Maximum: 5000 } },
    });
  });

  test('none() builds no cache, no cache user or secret, and tells the instances nothing of one', () => {
    const { template } = synth({ objectCache: WordPressObjectCache.none() });
    template.resourceCountIs('AWS::ElastiCache::ServerlessCache', 0);
    template.resourceCountIs('AWS::ElastiCache::User', 0);
    template.resourceCountIs('AWS::SecretsManager::Secret', 3);
    expect(userDataOf(template)).toMatch(/^WP_CACHE_HOST=''$/m);
  });

  test.each([
    [{ maxDataStorageGb: 0 }, /maxDataStorageGb \}\) is 0, but it must be a whole number from 1 to 5000/],
    [{ maxDataStorageGb: 1.5 }, /maxDataStorageGb \}\) is 1.5, but it must be a whole number from 1 to 5000/],
    [{ maxEcpuPerSecond: 999 }, /maxEcpuPerSecond \}\) is 999, but it must be a whole number from 1000 to 15000000/],
  ])('fails when given %j', (options, message) => {
    expect(() => WordPressObjectCache.serverless(options)).toThrow(message);
  });
});
