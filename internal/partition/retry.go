package partition

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// retryableCodes are Glue error codes, for whole calls and single
// BatchCreatePartition entries, that a later attempt can cure.
var retryableCodes = map[string]bool{
	"ThrottlingException":             true,
	"InternalServiceException":        true,
	"OperationTimeoutException":       true,
	"ConcurrentModificationException": true,
}

// sdkRetryables are the SDK's own rules: throttling codes, HTTP 5xx,
// connection errors.
var sdkRetryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// retryable says whether a failed Glue call may succeed if tried again.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if retryableCodes[errorCodeOf(err)] {
		return true
	}
	return sdkRetryables.IsErrorRetryable(err) == aws.TrueTernary
}

// errorCodeOf is the AWS error code in err, or "".
func errorCodeOf(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// fixFor tells the operator what to change for a Glue error code.
func fixFor(code string) string {
	switch code {
	case "EntityNotFoundException":
		return "the Glue database or table is missing: deploy the catalog stack for this region, or correct database/table in PARTITION_ROUTES"
	case "AccessDeniedException":
		return "grant the function's role glue:GetTable and glue:BatchCreatePartition on the catalog, the database and the table"
	case "InvalidInputException", "ValidationException":
		return "Glue refuses the partition: check the object's key against the table's partition keys (a value over 1024 characters, or a table whose keys changed); then delete the message from the DLQ or fix the table"
	case "ResourceNumberLimitExceededException":
		return "the account's Glue partition quota is used up: raise it in Service Quotas, then redrive the DLQ"
	case "GlueEncryptionException":
		return "Glue cannot use the catalog's KMS key: allow the function's role to use it"
	}
	if retryableCodes[code] || code == "" {
		return "Glue kept failing or throttling: the message comes back after the visibility timeout; if it reaches the DLQ, redrive it or run drctl repair-partitions"
	}
	return "see " + code + " in the AWS Glue API reference; redrive the DLQ once fixed"
}
