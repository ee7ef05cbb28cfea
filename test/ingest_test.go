package test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/constructs/ingest"
	"github.com/dr-analytics/drplan/internal/naming"
)

// Issue: ingest path. Accelerator in the backup region, endpoint groups per
// region, ALB in a NAT-less VPC, Lambda, Kinesis, Firehose.

func TestAcceleratorLivesInBackupStack(t *testing.T) {
	a := synth(t)
	backup := a.stack(t, naming.BackupStack)
	acc := backup.one(t, "AWS::GlobalAccelerator::Accelerator", map[string]any{"Name": names.Accelerator(), "Enabled": true})
	listener := backup.one(t, "AWS::GlobalAccelerator::Listener", map[string]any{
		"AcceleratorArn": matchFunc(func(v any) bool { return refersTo(v, acc.ID) }),
		"Protocol":       "TCP",
		"PortRanges":     []any{map[string]any{"FromPort": 80, "ToPort": 80}},
		"ClientAffinity": "NONE",
	})
	check(t, "backup stack publishes the listener ARN in its own region", func(t *testing.T) {
		backup.one(t, "AWS::SSM::Parameter", map[string]any{
			"Name":  names.ListenerParameter(),
			"Value": matchFunc(func(v any) bool { return refersTo(v, listener.ID) }),
		})
	})
	check(t, "no other stack creates an accelerator or listener", func(t *testing.T) {
		for _, name := range []string{naming.PrimaryStack, naming.BackupFailoverStack} {
			tpl := a.stack(t, name)
			if n := len(tpl.ofType("AWS::GlobalAccelerator::Accelerator")) + len(tpl.ofType("AWS::GlobalAccelerator::Listener")); n != 0 {
				t.Errorf("%s has %d accelerator resources", name, n)
			}
		}
	})
	check(t, "backup stack never reaches into another region", func(t *testing.T) {
		for _, r := range backup.resources() {
			if r.Type == "Custom::AWS" || strings.HasPrefix(r.Type, "Custom::CrossRegion") {
				t.Errorf("%s (%s) would make the backup stack depend on another region", r.ID, r.Type)
			}
		}
	})
}

func TestPrimaryEndpointGroup(t *testing.T) {
	a := synth(t)
	tpl := a.stack(t, naming.PrimaryStack)
	lb := tpl.one(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", map[string]any{})
	lookup := tpl.one(t, "Custom::AWS", map[string]any{})
	group := tpl.one(t, "AWS::GlobalAccelerator::EndpointGroup", map[string]any{})
	check(t, "primary endpoint group targets the primary ALB with client IP preservation", func(t *testing.T) {
		want := map[string]any{
			"EndpointGroupRegion": primaryRegion,
			"EndpointConfigurations": []any{map[string]any{
				"EndpointId":                  matchFunc(func(v any) bool { return refersTo(v, lb.ID) }),
				"ClientIPPreservationEnabled": true,
			}},
			"TrafficDialPercentage": 100,
		}
		if !like(group.Properties, want) {
			t.Errorf("endpoint group %s", show(group.Properties))
		}
	})
	check(t, "primary endpoint group waits for Firehose, which reads the stream from LATEST", func(t *testing.T) {
		delivery := tpl.one(t, "AWS::KinesisFirehose::DeliveryStream", map[string]any{})
		if !slices.Contains(asStrings(group.Raw["DependsOn"]), delivery.ID) {
			t.Errorf("DependsOn %v, want %s", group.Raw["DependsOn"], delivery.ID)
		}
	})
	check(t, "a PrimaryStack deploy that would update the endpoint group is checked for a failover first", func(t *testing.T) {
		guard := tpl.one(t, "Custom::DeployGuard", map[string]any{
			"FailoverParameter": names.FailoverStartedParameter(), "BackupRegion": backupRegion, "Override": "false",
			"OverrideKey": config.KeyAllowPrimaryDeployDuringFailover, "Stack": naming.PrimaryStack,
			"Reason": "set the primary traffic dial back to 100 before drctl failback has run",
		})
		if !slices.Contains(asStrings(group.Raw["DependsOn"]), guard.ID) {
			t.Errorf("endpoint group DependsOn %v, want the guard %s", group.Raw["DependsOn"], guard.ID)
		}
		// The guard carries the group's properties, so CloudFormation calls
		// it whenever it would send the group (and its dial of 100) again.
		for guardKey, groupValue := range map[string]any{
			"ListenerArn":           group.Properties["ListenerArn"],
			"EndpointGroupRegion":   group.Properties["EndpointGroupRegion"],
			"EndpointId":            group.Properties["EndpointConfigurations"].([]any)[0].(map[string]any)["EndpointId"],
			"TrafficDialPercentage": fmt.Sprint(group.Properties["TrafficDialPercentage"]),
			"Weight":                fmt.Sprint(group.Properties["EndpointConfigurations"].([]any)[0].(map[string]any)["Weight"]),
		} {
			if show(guard.Properties[guardKey]) != show(groupValue) {
				t.Errorf("guard %s = %s, want the group's %s", guardKey, show(guard.Properties[guardKey]), show(groupValue))
			}
		}
		fn := tpl.functionNamed(t, names.Function("deploy-guard"))
		grants := tpl.grants(roleOf(fn.Properties["Role"]))
		for action, resources := range grants {
			if strings.HasPrefix(action, "logs:") {
				continue
			}
			if action != "ssm:GetParameter" || show(resources) != show([]string{names.FailoverStartedParameterArn(backupRegion)}) {
				t.Errorf("guard may %s on %v; want only ssm:GetParameter on the failover record", action, resources)
			}
		}
	})
	check(t, "the guard can be overridden from config", func(t *testing.T) {
		synthVariant(t).stack(t, naming.PrimaryStack).one(t, "Custom::DeployGuard", map[string]any{"Override": "true"})
	})
	check(t, "no Global Accelerator health check settings: ALB endpoints use the target group's health", func(t *testing.T) {
		for _, g := range []resource{group, synth(t).stack(t, naming.BackupFailoverStack).one(t, "AWS::GlobalAccelerator::EndpointGroup", map[string]any{})} {
			for _, key := range []string{"HealthCheckPath", "HealthCheckPort", "HealthCheckProtocol", "HealthCheckIntervalSeconds", "ThresholdCount"} {
				if v, ok := g.Properties[key]; ok {
					t.Errorf("%s sets %s = %v, which Global Accelerator ignores for ALB endpoints", g.ID, key, v)
				}
			}
		}
	})
	check(t, "primary reads the listener ARN from the backup region at deploy time", func(t *testing.T) {
		if render(group.Properties["ListenerArn"]) != "<"+lookup.ID+".Parameter.Value>" {
			t.Errorf("ListenerArn %s", show(group.Properties["ListenerArn"]))
		}
		for _, key := range []string{"Create", "Update"} {
			call := render(lookup.Properties[key])
			for _, want := range []string{`"service":"SSM"`, `"action":"getParameter"`, `"region":"` + backupRegion + `"`, names.ListenerParameter()} {
				if !strings.Contains(call, want) {
					t.Errorf("%s call %s lacks %s", key, call, want)
				}
			}
		}
	})
	check(t, "the lookup may read only that parameter", func(t *testing.T) {
		policy := tpl.one(t, "AWS::IAM::Policy", map[string]any{"PolicyDocument": map[string]any{"Statement": []any{map[string]any{"Action": "ssm:GetParameter"}}},
			"Roles": []any{contains("AWS679f53fac002430cb0da5b7982bd2287")}})
		stmts := policy.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any)
		if len(stmts) != 1 || render(stmts[0].(map[string]any)["Resource"]) != names.ListenerParameterArn(backupRegion) {
			t.Errorf("statements %s", show(stmts))
		}
	})
	check(t, "primary stack imports nothing from another stack", func(t *testing.T) {
		if strings.Contains(show(tpl.body), "Fn::ImportValue") {
			t.Error("Fn::ImportValue in PrimaryStack")
		}
	})
}

func TestIngestNetwork(t *testing.T) {
	a := synth(t)
	for _, stack := range []string{naming.PrimaryStack, naming.BackupStack} {
		tpl := a.stack(t, stack)
		check(t, stack+" VPC has no NAT gateway", func(t *testing.T) {
			if n := len(tpl.ofType("AWS::EC2::NatGateway")); n != 0 {
				t.Errorf("%d NAT gateways", n)
			}
			if n := len(tpl.ofType("AWS::EC2::EIP")); n != 0 {
				t.Errorf("%d elastic IPs", n)
			}
		})
		check(t, stack+" VPC has isolated subnets in two Availability Zones", func(t *testing.T) {
			subnets := tpl.ofType("AWS::EC2::Subnet")
			if len(subnets) != 2 {
				t.Fatalf("%d subnets", len(subnets))
			}
			zones := map[string]bool{}
			for _, s := range subnets {
				if s.Properties["MapPublicIpOnLaunch"] != false {
					t.Errorf("%s maps public IPs", s.ID)
				}
				zones[show(s.Properties["AvailabilityZone"])] = true
			}
			if len(zones) != 2 {
				t.Errorf("zones %v", zones)
			}
			for _, rt := range tpl.ofType("AWS::EC2::Route") {
				t.Errorf("route %s: isolated subnets have no routes out", show(rt.Properties))
			}
		})
		check(t, stack+" VPC has an internet gateway attached for Global Accelerator", func(t *testing.T) {
			igw := tpl.one(t, "AWS::EC2::InternetGateway", map[string]any{})
			tpl.one(t, "AWS::EC2::VPCGatewayAttachment", map[string]any{"InternetGatewayId": matchFunc(func(v any) bool { return refersTo(v, igw.ID) })})
		})
		check(t, stack+" VPC logs its flows", func(t *testing.T) {
			tpl.one(t, "AWS::EC2::FlowLog", map[string]any{"TrafficType": "ALL", "ResourceType": "VPC"})
		})
		check(t, stack+" load balancer security group admits only producers on the listener port", func(t *testing.T) {
			sg := tpl.one(t, "AWS::EC2::SecurityGroup", map[string]any{})
			ingress := tpl.ingress(sg)
			want := map[string]any{"CidrIp": producerCIDR, "FromPort": 80, "ToPort": 80, "IpProtocol": "tcp"}
			if len(ingress) != 1 || !like(ingress[0], want) {
				t.Errorf("ingress %s", show(ingress))
			}
			for _, e := range asList(sg.Properties["SecurityGroupEgress"]) {
				if e.(map[string]any)["CidrIp"] != "255.255.255.255/32" {
					t.Errorf("egress %s", show(e))
				}
			}
		})
	}
	check(t, "with a prefix list and no CIDRs, only the prefix list is admitted (HTTPS)", func(t *testing.T) {
		tpl := synthVariant(t).stack(t, naming.BackupStack)
		ingress := tpl.ingress(tpl.one(t, "AWS::EC2::SecurityGroup", map[string]any{}))
		if len(ingress) != 1 || !like(ingress[0], map[string]any{"SourcePrefixListId": "pl-0123456789abcdef0", "FromPort": 443}) {
			t.Errorf("ingress %s", show(ingress))
		}
	})
}

func TestIngestLoadBalancer(t *testing.T) {
	for _, tc := range []struct {
		name, stack, region string
		a                   *assembly
		https               bool
	}{
		{"primary", naming.PrimaryStack, primaryRegion, synth(t), false},
		{"failover", naming.BackupFailoverStack, backupRegion, synth(t), false},
		{"failover with certificates", naming.BackupFailoverStack, backupRegion, synthVariant(t), true},
	} {
		tpl := tc.a.stack(t, tc.stack)
		lb := tpl.one(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", map[string]any{})
		check(t, tc.name+" ALB is internal with access logs", func(t *testing.T) {
			want := map[string]any{"Scheme": "internal", "Type": "application", "LoadBalancerAttributes": []any{
				map[string]any{"Key": "access_logs.s3.enabled", "Value": "true"},
				map[string]any{"Key": "access_logs.s3.prefix", "Value": "alb"},
				map[string]any{"Key": "access_logs.s3.bucket", "Value": contains("DataAccessLogs")},
				map[string]any{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
			}}
			if !like(lb.Properties, want) {
				t.Errorf("load balancer %s", show(lb.Properties))
			}
		})
		check(t, tc.name+" ALB closes client connections after 60 s, so a dial change reaches busy producers", func(t *testing.T) {
			// Global Accelerator applies a dial change to new connections
			// only; ELB's default keep-alive is 3600 s.
			want := map[string]any{"LoadBalancerAttributes": []any{map[string]any{"Key": "client_keep_alive.seconds", "Value": "60"}}}
			if !like(lb.Properties, want) {
				t.Errorf("attributes %s", show(lb.Properties["LoadBalancerAttributes"]))
			}
		})
		check(t, tc.name+" target group health check: interval above timeout, both short", func(t *testing.T) {
			// For Lambda targets the unset timeout is 30 s, and ELB refuses an
			// interval that is not greater than the timeout.
			tg := tpl.one(t, "AWS::ElasticLoadBalancingV2::TargetGroup", map[string]any{"TargetType": "lambda"})
			want := map[string]any{"HealthCheckEnabled": true, "HealthCheckPath": ingest.HealthPath,
				"HealthCheckIntervalSeconds": 10, "HealthCheckTimeoutSeconds": 5, "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2}
			if !like(tg.Properties, want) {
				t.Errorf("target group %s", show(tg.Properties))
			}
			interval, _ := tg.Properties["HealthCheckIntervalSeconds"].(float64)
			timeout, ok := tg.Properties["HealthCheckTimeoutSeconds"].(float64)
			if !ok || interval <= timeout {
				t.Errorf("interval %v must be greater than timeout %v", interval, tg.Properties["HealthCheckTimeoutSeconds"])
			}
		})
		check(t, tc.name+" ALB is created after its access-log bucket and policy", func(t *testing.T) {
			deps := asStrings(lb.Raw["DependsOn"])
			if tc.stack == naming.PrimaryStack {
				logs := bucketNamed(t, tpl, accessLogs)
				policy := tpl.one(t, "AWS::S3::BucketPolicy", map[string]any{"Bucket": matchFunc(func(v any) bool { return refersTo(v, logs.ID) })})
				if !slices.Contains(deps, logs.ID) || !slices.Contains(deps, policy.ID) {
					t.Errorf("DependsOn %v, want %s and %s", deps, logs.ID, policy.ID)
				}
			}
		})
		check(t, tc.name+" target group invokes the ingest Lambda with health checks on /health", func(t *testing.T) {
			tg := tpl.one(t, "AWS::ElasticLoadBalancingV2::TargetGroup", map[string]any{
				"TargetType": "lambda", "HealthCheckEnabled": true, "HealthCheckPath": ingest.HealthPath,
			})
			targets := render(tg.Properties["Targets"])
			if !strings.Contains(targets, "HandlerFunction") {
				t.Errorf("targets %s", targets)
			}
			perm := tpl.one(t, "AWS::Lambda::Permission", map[string]any{"Principal": "elasticloadbalancing.amazonaws.com", "Action": "lambda:InvokeFunction"})
			if !strings.Contains(render(perm.Properties["SourceArn"]), ":targetgroup/"+names.Function("ingest")+"/*") || perm.Properties["SourceAccount"] == nil {
				t.Errorf("permission %s", show(perm.Properties))
			}
			if !like(tg.Raw["DependsOn"], []any{perm.ID}) {
				t.Errorf("target group must wait for the permission: DependsOn %v", tg.Raw["DependsOn"])
			}
		})
		check(t, tc.name+" listener", func(t *testing.T) {
			want := map[string]any{"Port": 80, "Protocol": "HTTP"}
			if tc.https {
				want = map[string]any{"Port": 443, "Protocol": "HTTPS", "Certificates": []any{map[string]any{"CertificateArn": contains(":acm:" + tc.region + ":")}}}
			}
			tpl.one(t, "AWS::ElasticLoadBalancingV2::Listener", want)
		})
	}
}

func TestIngestFunctionStreamAndDelivery(t *testing.T) {
	a := synth(t)
	standby := a.stack(t, naming.BackupStack)
	active := a.stack(t, naming.BackupFailoverStack)
	primary := a.stack(t, naming.PrimaryStack)
	for _, tc := range []struct {
		name            string
		standby, active template
		region          string
	}{{"primary", primary, primary, primaryRegion}, {"backup", standby, active, backupRegion}} {
		fn := tc.standby.functionNamed(t, names.Function("ingest"))
		streamArn := names.StreamArn(tc.region)
		check(t, tc.name+" ingest Lambda writes only to its stream", func(t *testing.T) {
			if !like(fn.Properties, map[string]any{"Environment": map[string]any{"Variables": map[string]any{"STREAM_NAME": names.Stream(), "DELIVERY_STREAM_NAME": names.DeliveryStream()}}}) {
				t.Errorf("environment %s", show(fn.Properties["Environment"]))
			}
			grants := tc.standby.grants(roleOf(fn.Properties["Role"]))
			for _, action := range []string{"kinesis:PutRecords", "kinesis:DescribeStreamSummary"} {
				if show(grants[action]) != show([]string{streamArn}) {
					t.Errorf("%s on %v", action, grants[action])
				}
			}
			// /health checks that Firehose reads the stream.
			if show(grants["firehose:DescribeDeliveryStream"]) != show([]string{names.DeliveryStreamArn(tc.region)}) {
				t.Errorf("firehose:DescribeDeliveryStream on %v", grants["firehose:DescribeDeliveryStream"])
			}
			for action := range grants {
				if !strings.HasPrefix(action, "logs:") && action != "kinesis:PutRecords" && action != "kinesis:DescribeStreamSummary" && action != "kms:GenerateDataKey" && action != "firehose:DescribeDeliveryStream" {
					t.Errorf("unexpected grant %s", action)
				}
			}
		})
		stream := tc.active.one(t, "AWS::Kinesis::Stream", map[string]any{"Name": names.Stream()})
		check(t, tc.name+" stream is on-demand, KMS-encrypted with its own key, 24 h", func(t *testing.T) {
			want := map[string]any{"StreamModeDetails": map[string]any{"StreamMode": "ON_DEMAND"}, "RetentionPeriodHours": 24,
				"StreamEncryption": map[string]any{"EncryptionType": "KMS", "KeyId": present}}
			if !like(stream.Properties, want) {
				t.Errorf("stream %s", show(stream.Properties))
			}
			if strings.Contains(show(stream.Properties["StreamEncryption"]), "alias/aws/kinesis") {
				t.Error("uses the AWS managed key")
			}
		})
		check(t, tc.name+" Firehose delivers Hive-partitioned GZIP JSON to raw/ and errors to errors/", func(t *testing.T) {
			d := tc.active.one(t, "AWS::KinesisFirehose::DeliveryStream", map[string]any{"DeliveryStreamName": names.DeliveryStream()})
			want := map[string]any{
				"DeliveryStreamType":               "KinesisStreamAsSource",
				"KinesisStreamSourceConfiguration": map[string]any{"KinesisStreamARN": matchFunc(func(v any) bool { return refersTo(v, stream.ID) })},
				"ExtendedS3DestinationConfiguration": map[string]any{
					"BucketARN":                "arn:aws:s3:::" + names.Bucket(naming.Streaming, tc.region),
					"Prefix":                   "raw/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
					"ErrorOutputPrefix":        contains("errors/!{firehose:error-output-type}/"),
					"CompressionFormat":        "GZIP",
					"BufferingHints":           map[string]any{"IntervalInSeconds": 60},
					"CloudWatchLoggingOptions": map[string]any{"Enabled": true},
				},
			}
			if !like(d.Properties, want) {
				t.Errorf("delivery stream %s", show(d.Properties))
			}
		})
	}
	check(t, "Firehose role reads the stream and writes only raw/ and errors/", func(t *testing.T) {
		role := standby.one(t, "AWS::IAM::Role", map[string]any{"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{"Principal": map[string]any{"Service": "firehose.amazonaws.com"}}}}})
		bucket := "arn:aws:s3:::" + names.Bucket(naming.Streaming, backupRegion)
		grants := standby.grants(role.ID)
		if show(sorted(grants["s3:PutObject"])) != show([]string{bucket + "/errors/*", bucket + "/raw/*"}) {
			t.Errorf("s3:PutObject on %v", grants["s3:PutObject"])
		}
		if show(grants["kinesis:GetRecords"]) != show([]string{names.StreamArn(backupRegion)}) {
			t.Errorf("kinesis:GetRecords on %v", grants["kinesis:GetRecords"])
		}
	})
}
