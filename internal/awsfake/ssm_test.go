package awsfake_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

const parameterName = "/dr-analytics/failover/started-at"

func TestSSMParameterLifecycleThroughTheSDK(t *testing.T) {
	ctx := context.Background()
	s := awsfake.NewSSM(t, "us-west-2")
	at := time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC)
	s.SetClock(at)
	client := s.Client()
	put := func(value string, overwrite bool) (*ssm.PutParameterOutput, error) {
		return client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(parameterName), Type: ssmtypes.ParameterTypeString,
			Value: aws.String(value), Overwrite: aws.Bool(overwrite)})
	}
	get := func() (*ssm.GetParameterOutput, error) {
		return client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(parameterName)})
	}

	t.Run("a missing parameter is ParameterNotFound", func(t *testing.T) {
		if _, err := get(); !errors.As(err, new(*ssmtypes.ParameterNotFound)) {
			t.Errorf("GetParameter: %v, want ParameterNotFound", err)
		}
	})
	t.Run("a put creates version 1 and a get reads it back", func(t *testing.T) {
		out, err := put("first", false)
		if err != nil || out.Version != 1 {
			t.Fatalf("PutParameter = %+v, %v; want version 1", out, err)
		}
		got, err := get()
		if err != nil {
			t.Fatal(err)
		}
		p := got.Parameter
		if aws.ToString(p.Name) != parameterName || aws.ToString(p.Value) != "first" || p.Type != ssmtypes.ParameterTypeString ||
			p.Version != 1 || !aws.ToTime(p.LastModifiedDate).Equal(at) ||
			aws.ToString(p.ARN) != "arn:aws:ssm:us-west-2:123456789012:parameter"+parameterName {
			t.Errorf("GetParameter = %+v", p)
		}
	})
	t.Run("a put without Overwrite keeps the value and is ParameterAlreadyExists", func(t *testing.T) {
		if _, err := put("second", false); !errors.As(err, new(*ssmtypes.ParameterAlreadyExists)) {
			t.Errorf("PutParameter: %v, want ParameterAlreadyExists", err)
		}
		if p, _ := s.Parameter(parameterName); p.Value != "first" || p.Version != 1 {
			t.Errorf("parameter is %+v, want first at version 1", p)
		}
	})
	t.Run("a put with Overwrite replaces the value and bumps the version", func(t *testing.T) {
		out, err := put("third", true)
		if err != nil || out.Version != 2 {
			t.Fatalf("PutParameter = %+v, %v; want version 2", out, err)
		}
		if p, _ := s.Parameter(parameterName); p.Value != "third" || p.Version != 2 {
			t.Errorf("parameter is %+v, want third at version 2", p)
		}
	})
	t.Run("a delete removes it and a second delete is ParameterNotFound", func(t *testing.T) {
		if _, err := client.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(parameterName)}); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Parameter(parameterName); ok {
			t.Error("parameter still there after DeleteParameter")
		}
		_, err := client.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(parameterName)})
		if !errors.As(err, new(*ssmtypes.ParameterNotFound)) {
			t.Errorf("second DeleteParameter: %v, want ParameterNotFound", err)
		}
	})
	t.Run("every request is recorded as sent", func(t *testing.T) {
		want := []string{"GetParameter", "PutParameter", "GetParameter", "PutParameter", "PutParameter", "DeleteParameter", "DeleteParameter"}
		if got := s.Ops(); !slices.Equal(got, want) {
			t.Errorf("ops = %v, want %v", got, want)
		}
		var body struct {
			Name, Type, Value string
			Overwrite         bool
		}
		puts := s.CallsTo("PutParameter")
		if err := puts[0].Decode(&body); err != nil || body.Name != parameterName || body.Type != "String" || body.Value != "first" || body.Overwrite {
			t.Errorf("first PutParameter body = %+v, %v", body, err)
		}
	})
}

func TestSSMCreateNeedsATypeAndOverwriteKeepsIt(t *testing.T) {
	ctx := context.Background()
	s := awsfake.NewSSM(t, "us-west-2")
	client := s.Client()
	_, err := client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(parameterName), Value: aws.String("v")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
		t.Errorf("create without Type: %v, want ValidationException", err)
	}
	s.PutParameter(awsfake.Parameter{Name: parameterName, Type: "StringList", Value: "a,b"})
	if _, err := client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(parameterName), Value: aws.String("c"), Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Parameter(parameterName); p.Type != "StringList" || p.Value != "c" || p.Version != 2 {
		t.Errorf("parameter is %+v, want StringList c at version 2", p)
	}
}

func TestSSMTakesInjectedFaults(t *testing.T) {
	ctx := context.Background()
	s := awsfake.NewSSM(t, "us-west-2")
	client := s.Client()
	put := func(c context.Context) error {
		_, err := client.PutParameter(c, &ssm.PutParameterInput{Name: aws.String(parameterName), Type: ssmtypes.ParameterTypeString, Value: aws.String("v")})
		return err
	}
	s.Inject("PutParameter", awsfake.Fault{Code: "AccessDeniedException", Message: "not authorized", Times: 1})
	var apiErr smithy.APIError
	if err := put(ctx); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" {
		t.Errorf("first put: %v, want the injected AccessDeniedException", err)
	}
	if err := put(ctx); err != nil {
		t.Errorf("second put, after the fault was used up: %v", err)
	}
	if _, ok := s.Parameter(parameterName); !ok {
		t.Error("the second put stored nothing")
	}

	s.Hang()
	hung, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := client.GetParameter(hung, &ssm.GetParameterInput{Name: aws.String(parameterName)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging GetParameter: %v, want a deadline error", err)
	}
	s.Clear()
	_, err := client.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{parameterName}})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
		t.Errorf("GetParameters: %v, want UnknownOperationException", err)
	}
	if n := len(s.CallsTo("PutParameter")); n != 2 {
		t.Errorf("%d PutParameter calls recorded, want 2", n)
	}
}

func TestSSMParameterVersions(t *testing.T) {
	ctx := context.Background()
	s := awsfake.NewSSM(t, "us-west-2")
	client := s.Client()
	for i := 1; i <= 102; i++ {
		_, err := client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(parameterName), Type: ssmtypes.ParameterTypeString,
			Value: aws.String(fmt.Sprint("value ", i)), Overwrite: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
	}
	get := func(name string) (*ssm.GetParameterOutput, error) {
		return client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	}
	cases := []struct {
		name, selector string
		value          string
		err            any
	}{
		{"the latest without a selector", "", "value 102", nil},
		{"a kept version by number", ":50", "value 50", nil},
		{"the oldest of the 100 kept", ":3", "value 3", nil},
		{"a version past the 100 kept is ParameterVersionNotFound", ":2", "", new(*ssmtypes.ParameterVersionNotFound)},
		{"a version not yet written is ParameterVersionNotFound", ":103", "", new(*ssmtypes.ParameterVersionNotFound)},
		{"a label, of which there are none, is ParameterVersionNotFound", ":current", "", new(*ssmtypes.ParameterVersionNotFound)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := get(parameterName + c.selector)
			if c.err != nil {
				if !errors.As(err, c.err) {
					t.Errorf("GetParameter: %v, want %T", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p := out.Parameter; aws.ToString(p.Value) != c.value || aws.ToString(p.Name) != parameterName || aws.ToString(p.Selector) != c.selector {
				t.Errorf("GetParameter = name %s value %q selector %q; want %s %q %q", aws.ToString(p.Name), aws.ToString(p.Value), aws.ToString(p.Selector), parameterName, c.value, c.selector)
			}
		})
	}
	t.Run("a parameter created again after a delete starts at version 1 without the old versions", func(t *testing.T) {
		if _, err := client.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(parameterName)}); err != nil {
			t.Fatal(err)
		}
		out, err := client.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(parameterName), Type: ssmtypes.ParameterTypeString, Value: aws.String("new")})
		if err != nil || out.Version != 1 {
			t.Fatalf("PutParameter = %+v, %v; want version 1", out, err)
		}
		if _, err := get(parameterName + ":50"); !errors.As(err, new(*ssmtypes.ParameterVersionNotFound)) {
			t.Errorf("old version 50: %v, want ParameterVersionNotFound", err)
		}
	})
}
