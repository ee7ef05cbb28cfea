package datatier

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/nag"
	"github.com/dr-analytics/drplan/internal/naming"
)

// newFailbackCopyRole is the role failback's S3 Batch Operations copy jobs
// (S3PutObjectCopy, created by drctl in the primary region) run as. It may
// read only the data prefixes of the replica buckets, write only the same
// prefixes of the primary buckets, read the job manifests and write the
// completion reports in the primary region's results bucket. The trust
// policy and the permissions follow "Granting permissions for Batch
// Operations" (copy objects: source GetObject and GetObjectTagging,
// destination PutObject and PutObjectTagging; manifest GetObject and
// GetObjectVersion; report PutObject and GetBucketLocation). The buckets
// are SSE-S3 and have ACLs disabled, so no KMS or ACL actions. Names only:
// the replicas live in BackupStack, in another region.
func newFailbackCopyRole(scope constructs.Construct, names naming.Names, primary, backup string) awsiam.Role {
	role := awsiam.NewRole(scope, jsii.String("FailbackCopyRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(names.FailbackCopyRole()),
		Description: jsii.String("S3 Batch Operations copy jobs of drctl failback: read the replicas' data, write the primary buckets' data and the job reports"),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("batchoperations.s3.amazonaws.com"), nil),
	})
	var replicaObjects, primaryObjects []string
	for _, route := range []struct {
		purpose naming.Purpose
		prefix  string
	}{{naming.Streaming, naming.RawPrefix}, {naming.Streaming, naming.ErrorsPrefix}, {naming.Batch, naming.CompactedPrefix}} {
		replicaObjects = append(replicaObjects, names.BucketArn(route.purpose, backup)+"/"+route.prefix+"*")
		primaryObjects = append(primaryObjects, names.BucketArn(route.purpose, primary)+"/"+route.prefix+"*")
	}
	results := names.BucketArn(naming.AthenaResults, primary)
	manifests, reports := results+"/"+naming.FailbackManifestsPrefix+"*", results+"/"+naming.FailbackReportsPrefix+"*"
	allow := func(actions []string, resources ...string) {
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...)}))
	}
	allow([]string{"s3:GetObject", "s3:GetObjectTagging"}, replicaObjects...)
	allow([]string{"s3:PutObject", "s3:PutObjectTagging"}, primaryObjects...)
	allow([]string{"s3:GetObject", "s3:GetObjectVersion"}, manifests)
	allow([]string{"s3:PutObject"}, reports)
	allow([]string{"s3:GetBucketLocation"}, results)
	findings := []string{nag.Resource(manifests), nag.Resource(reports)}
	for i := range replicaObjects {
		findings = append(findings, nag.Resource(replicaObjects[i]), nag.Resource(primaryObjects[i]))
	}
	nag.Suppress(role, "IAM5", "A failback copy job copies whichever objects DR wrote, so it reads any object under the data prefixes of the replica buckets and writes the same prefixes of the primary buckets; it reads the manifests drctl writes and writes its completion report under two prefixes of the results bucket.", findings...)
	return role
}
