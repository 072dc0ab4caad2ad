import { WordPressDatabase, WordPressMedia, WordPressObjectCache } from '../src';
import { synth } from './util';

// Renaming a stateful resource's logical ID makes CloudFormation replace it: a new, empty database,
// file system or volume, and new secrets. These IDs are part of the public contract and change only
// with a major version. If this test fails, restore the construct IDs; do not update the list.
const STATEFUL = [
  'AWS::RDS::DBCluster',
  'AWS::RDS::DBInstance',
  'AWS::EFS::FileSystem',
  'AWS::EC2::Volume',
  'AWS::SecretsManager::Secret',
  'AWS::Backup::BackupVault',
];

function statefulIds(template: ReturnType<typeof synth>['template']): string[] {
  return Object.entries<any>(template.toJSON().Resources)
    .filter(([id, resource]) => STATEFUL.includes(resource.Type) || (resource.Type === 'AWS::KMS::Key' && id.startsWith('SiteBackup')))
    .map(([id, resource]) => `${resource.Type} ${id}`)
    .sort();
}

// The vault holds the recovery points; its key decrypts them: replacing either loses the backups.
const BACKUPS = [
  'AWS::Backup::BackupVault SiteBackupVaultE8F96337',
  'AWS::KMS::Key SiteBackupKey402C47E0',
];

const SECRETS = [
  'AWS::SecretsManager::Secret SiteDatabaseSecret3846D5CA',
  'AWS::SecretsManager::Secret SiteSecretsAdmin8BDF2CAC',
  'AWS::SecretsManager::Secret SiteSecretsSalts03FE769E',
];

describe('logical IDs of stateful resources never change', () => {
  test('RDS Multi-AZ with EFS', () => {
    const { template } = synth({ database: WordPressDatabase.rdsMultiAz(), media: WordPressMedia.efs() });
    expect(statefulIds(template)).toEqual([
      'AWS::EFS::FileSystem SiteMediaFileSystemB6859CE0',
      'AWS::RDS::DBInstance SiteDatabaseInstance94D92DB9',
      ...SECRETS,
      ...BACKUPS,
    ].sort());
  });

  test('Aurora with two readers and EBS', () => {
    const { template } = synth({ database: WordPressDatabase.auroraReplicas({ readers: 2 }), media: WordPressMedia.ebs() });
    expect(statefulIds(template)).toEqual([
      'AWS::EC2::Volume SiteMediaVolume320544D3',
      'AWS::RDS::DBCluster SiteDatabaseCluster71629F65',
      'AWS::RDS::DBInstance SiteDatabaseClusterReader1EDC599E4',
      'AWS::RDS::DBInstance SiteDatabaseClusterReader2074E8445',
      'AWS::RDS::DBInstance SiteDatabaseClusterWriter24F7733F',
      ...SECRETS,
      ...BACKUPS,
    ].sort());
  });

  test('the object cache\'s secret', () => {
    const { template } = synth({ objectCache: WordPressObjectCache.serverless() });
    expect(statefulIds(template)).toContain('AWS::SecretsManager::Secret SiteObjectCacheSecretAAEC40F2');
  });

  test('do not depend on the other choices (domain, capacity, instance type)', () => {
    const plain = statefulIds(synth().template);
    const other = statefulIds(synth({ minCapacity: 3, maxCapacity: 9, siteTitle: 'Other' }).template);
    expect(other).toEqual(plain);
  });
});
