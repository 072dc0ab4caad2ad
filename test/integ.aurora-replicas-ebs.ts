// Aurora MySQL with one reader and an EBS volume: one instance, in the volume's AZ.
import { WordPressDatabase, WordPressMedia } from '../src';
import { assertAuroraMembers, assertVolumeAttached, integSite } from './integ-site';

const { integ, site } = integSite('aurora-replicas-ebs', {
  database: WordPressDatabase.auroraReplicas({ readers: 1 }),
  media: WordPressMedia.ebs(),
});
assertAuroraMembers(integ, site, 1);
assertVolumeAttached(integ, site);
