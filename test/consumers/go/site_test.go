// A Go user's program: a site with Aurora (two readers), EFS and a domain, from the generated Go module.
package consumer

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/jsii-runtime-go"
	wordpress "github.com/cdk-scalable-wordpress/cdk-scalable-wordpress-go/cdkscalablewordpress"
)

func synth() assertions.Template {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Blog"), nil)
	zone := awsroute53.HostedZone_FromHostedZoneAttributes(stack, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String("Z0000000EXAMPLE"),
		ZoneName:     jsii.String("example.com"),
	})
	wordpress.NewScalableWordPress(stack, jsii.String("Site"), &wordpress.ScalableWordPressProps{
		Database:   wordpress.WordPressDatabase_AuroraReplicas(&wordpress.AuroraReplicasOptions{Readers: jsii.Number(2)}),
		Media:      wordpress.WordPressMedia_Efs(nil),
		DomainName: jsii.String("blog.example.com"),
		DomainZone: zone,
	})
	return assertions.Template_FromStack(stack, nil)
}

func TestSite(t *testing.T) {
	template := synth()
	template.ResourceCountIs(jsii.String("AWS::RDS::DBCluster"), jsii.Number(1))
	template.ResourceCountIs(jsii.String("AWS::RDS::DBInstance"), jsii.Number(3))
	template.ResourceCountIs(jsii.String("AWS::EFS::MountTarget"), jsii.Number(2))
	template.HasResourceProperties(jsii.String("AWS::Route53::RecordSet"), map[string]interface{}{
		"Name": "blog.example.com.", "Type": "A",
	})
	template.HasResourceProperties(jsii.String("AWS::EC2::LaunchTemplate"), map[string]interface{}{
		"LaunchTemplateData": assertions.Match_ObjectLike(&map[string]interface{}{"InstanceType": "m5.large"}),
	})
}

func TestBadPropRaisesTheLibraryError(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(strings.TrimSpace(toString(r)), "maxCapacity is 3, but WordPressMedia.ebs() keeps wp-content on one volume") {
			t.Fatalf("expected the library's error, got %v", r)
		}
	}()
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Bad"), nil)
	wordpress.NewScalableWordPress(stack, jsii.String("Site"), &wordpress.ScalableWordPressProps{
		Media:       wordpress.WordPressMedia_Ebs(nil),
		MaxCapacity: jsii.Number(3),
	})
}

func toString(v interface{}) string {
	if err, ok := v.(error); ok {
		return err.Error()
	}
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}
