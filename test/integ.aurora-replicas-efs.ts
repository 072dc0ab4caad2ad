// Aurora MySQL with two readers and EFS media.
import { WordPressDatabase, WordPressMedia } from '../src';
import { assertAuroraMembers, assertInstancesIn, assertMountTargetPerAz, integSite } from './integ-site';

const { integ, site } = integSite('aurora-replicas-efs', {
  database: WordPressDatabase.auroraReplicas({ readers: 2 }),
  media: WordPressMedia.efs(),
});
assertAuroraMembers(integ, site, 2);
assertMountTargetPerAz(integ, site);
assertInstancesIn(integ, site, site.vpc.availabilityZones);
