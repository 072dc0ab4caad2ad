// RDS for MySQL Multi-AZ with an EBS volume: one instance, in the volume's AZ.
import { WordPressDatabase, WordPressMedia } from '../src';
import { assertVolumeAttached, integSite } from './integ-site';

const { integ, site } = integSite('rds-multi-az-ebs', {
  database: WordPressDatabase.rdsMultiAz(),
  media: WordPressMedia.ebs(),
});
assertVolumeAttached(integ, site);
