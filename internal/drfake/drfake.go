// Package drfake runs in-memory AWS service fakes on loopback for the
// operator CLI's tests: STS and CloudFormation (awsQuery, XML answers),
// CloudWatch (smithy rpcv2Cbor, as aws-sdk-go-v2 sends it now), Lambda's
// event source mappings (restJson1), SQS queue depths and Step Functions
// executions (awsJson1_0), an S3 front for gofakes3 that adds replication
// configuration, UploadPartCopy, request latency, fault injection and call
// counts, S3 Control's Batch Operations jobs on that store (restXml), an
// in-process ListObjectsV2 model for millions of keys, a DynamoDB router
// that makes dynalite and awsfake's DynamoDB control plane one endpoint, a
// table alias that lets tests share one dynalite, and the metrics a
// failover pipeline publishes (PublishBackupPipeline). A World composes
// them with awsfake's fakes (SSM, DynamoDB's control plane, AWS Backup,
// Global Accelerator) into both regions of a deployment. Every fake decodes requests exactly as the SDK encodes them,
// so the code under test uses real SDK clients, and takes its server,
// request log, faults and JSON protocol handling from awsfake. Test support
// only.
package drfake

import (
	"net/http"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

// Fault makes a fake answer one operation with an error; Fail fills in
// what it leaves out.
type Fault = awsfake.Fault

// base is what every fake of this package embeds: its endpoint, and its
// request log and faults, counted per operation.
type base struct {
	url      string
	recorder awsfake.Recorder
}

// URL is the endpoint for an SDK client.
func (b *base) URL() string { return b.url }

// Calls returns how many requests for op the fake received.
func (b *base) Calls(op string) int { return len(b.recorder.CallsTo(op)) }

// Fail makes op answer with f (every operation when op is "*"): status
// 500, code InternalFailure and message "injected fault" unless f sets
// them.
func (b *base) Fail(op string, f Fault) {
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	if f.Code == "" {
		f.Code = "InternalFailure"
	}
	if f.Message == "" {
		f.Message = "injected fault"
	}
	b.recorder.Inject(op, f)
}

// Clear removes every injected fault.
func (b *base) Clear() { b.recorder.Clear() }
