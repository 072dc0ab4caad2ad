// RDS for MySQL Multi-AZ with EFS media: the default layout, two instances in two AZs.
import { WordPressDatabase, WordPressMedia } from '../src';
import { assertInstancesIn, assertMountTargetPerAz, integSite } from './integ-site';

const { integ, site } = integSite('rds-multi-az-efs', {
  database: WordPressDatabase.rdsMultiAz(),
  media: WordPressMedia.efs(),
});
assertMountTargetPerAz(integ, site);
assertInstancesIn(integ, site, site.vpc.availabilityZones);
