package example;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.cdkscalablewordpress.ScalableWordPress;
import io.github.cdkscalablewordpress.ScalableWordPressProps;
import io.github.cdkscalablewordpress.WordPressDatabase;
import io.github.cdkscalablewordpress.WordPressMedia;
import io.github.cdkscalablewordpress.AuroraReplicasOptions;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awscdk.App;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.assertions.Match;
import software.amazon.awscdk.assertions.Template;
import software.amazon.awscdk.services.route53.HostedZone;
import software.amazon.awscdk.services.route53.HostedZoneAttributes;
import software.amazon.awscdk.services.route53.IHostedZone;

/** A Java user's program: a site with Aurora (two readers), EFS and a domain. */
class SiteTest {
    private static Template template;

    @BeforeAll
    static void synthesize() {
        App app = new App();
        Stack stack = new Stack(app, "Blog");
        IHostedZone zone = HostedZone.fromHostedZoneAttributes(stack, "Zone", HostedZoneAttributes.builder()
                .hostedZoneId("Z0000000EXAMPLE")
                .zoneName("example.com")
                .build());
        new ScalableWordPress(stack, "Site", ScalableWordPressProps.builder()
                .database(WordPressDatabase.auroraReplicas(AuroraReplicasOptions.builder().readers(2).build()))
                .media(WordPressMedia.efs())
                .domainName("blog.example.com")
                .domainZone(zone)
                .build());
        template = Template.fromStack(stack);
    }

    @Test
    void auroraHasOneWriterAndTwoReaders() {
        template.resourceCountIs("AWS::RDS::DBCluster", 1);
        template.resourceCountIs("AWS::RDS::DBInstance", 3);
    }

    @Test
    void efsHasOneMountTargetPerAvailabilityZone() {
        template.resourceCountIs("AWS::EFS::FileSystem", 1);
        template.resourceCountIs("AWS::EFS::MountTarget", 2);
    }

    @Test
    void theDomainGetsAnAliasRecord() {
        template.hasResourceProperties("AWS::Route53::RecordSet",
                Map.of("Name", "blog.example.com.", "Type", "A", "AliasTarget", Match.anyValue()));
    }

    @Test
    void instancesAreM5LargeByDefault() {
        template.hasResourceProperties("AWS::EC2::LaunchTemplate",
                Map.of("LaunchTemplateData", Match.objectLike(Map.of("InstanceType", "m5.large"))));
    }

    @Test
    void aBadPropRaisesTheLibraryErrorWithItsMessage() {
        Stack stack = new Stack(new App(), "Bad");
        RuntimeException error = assertThrows(RuntimeException.class, () ->
                new ScalableWordPress(stack, "Site", ScalableWordPressProps.builder()
                        .media(WordPressMedia.ebs())
                        .maxCapacity(3)
                        .build()));
        assertTrue(error.getMessage().contains("maxCapacity is 3, but WordPressMedia.ebs() keeps wp-content on one volume"),
                error.getMessage());
    }
}
