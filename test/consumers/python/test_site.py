"""A Python user's program: synthesize a site with cdk-scalable-wordpress, installed from its wheel."""
import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from app import build_app
from cdk_scalable_wordpress import ScalableWordPress, WordPressDatabase, WordPressMedia


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.from_stack(build_app())


def test_aurora_has_one_writer_and_two_readers(template: Template) -> None:
    template.resource_count_is("AWS::RDS::DBCluster", 1)
    template.resource_count_is("AWS::RDS::DBInstance", 3)


def test_efs_has_one_mount_target_per_availability_zone(template: Template) -> None:
    template.resource_count_is("AWS::EFS::FileSystem", 1)
    template.resource_count_is("AWS::EFS::MountTarget", 2)


def test_the_domain_gets_an_alias_record(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Route53::RecordSet",
        {"Name": "blog.example.com.", "Type": "A", "AliasTarget": Match.any_value()},
    )


def test_instances_are_m5_large_by_default(template: Template) -> None:
    template.has_resource_properties(
        "AWS::EC2::LaunchTemplate",
        {"LaunchTemplateData": Match.object_like({"InstanceType": "m5.large"})},
    )


def test_the_boot_script_is_in_the_user_data(template: Template) -> None:
    launch_template = next(iter(template.find_resources("AWS::EC2::LaunchTemplate").values()))
    user_data = str(launch_template["Properties"]["LaunchTemplateData"]["UserData"])
    assert "exec /usr/local/lib/scalable-wordpress/boot.sh" in user_data


def test_a_bad_prop_raises_the_library_error_with_its_message() -> None:
    stack = cdk.Stack(cdk.App(), "Bad")
    with pytest.raises(Exception, match=r"maxCapacity is 3, but WordPressMedia\.ebs\(\) keeps wp-content on one volume"):
        ScalableWordPress(stack, "Site", media=WordPressMedia.ebs(), max_capacity=3)
