"""A Python user's CDK app: a WordPress site with Aurora (two readers), EFS and a domain.

Run it as `python app.py` (what `cdk synth` does) to synthesize it to cdk.out, or import build_app().
"""
import os

import aws_cdk as cdk
from aws_cdk import aws_route53 as route53

from cdk_scalable_wordpress import ScalableWordPress, WordPressDatabase, WordPressMedia


def build_app(outdir: str = "cdk.out") -> cdk.Stack:
    app = cdk.App(outdir=outdir)
    stack = cdk.Stack(app, "Blog")
    zone = route53.HostedZone.from_hosted_zone_attributes(
        stack, "Zone", hosted_zone_id="Z0000000EXAMPLE", zone_name="example.com"
    )
    ScalableWordPress(
        stack,
        "Site",
        database=WordPressDatabase.aurora_replicas(readers=2),
        media=WordPressMedia.efs(),
        domain_name="blog.example.com",
        domain_zone=zone,
    )
    return stack


if __name__ == "__main__":
    build_app(os.environ.get("CDK_OUTDIR", "cdk.out")).node.root.synth()
