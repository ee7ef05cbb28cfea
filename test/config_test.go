package test

import (
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/naming"
)

// Configuration errors reach the operator as config's one line, before any
// construct runs, never as a jsii panic with a Node.js stack trace.
func TestSynthRefusesIPv6ProducersWithTheConfigError(t *testing.T) {
	ctx := map[string]any{}
	for k, v := range testContext {
		ctx[k] = v
	}
	ctx[config.KeyProducerCIDRs] = "203.0.113.0/24,2001:db8::/32"
	_, err := synthesize(ctx)
	if err == nil {
		t.Fatal("synth with an IPv6 producer CIDR succeeded")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, `config: context key "producerCidrs" has invalid value "2001:db8::/32"`) || !strings.Contains(msg, "IPv4-only") || strings.Contains(msg, "\n") {
		t.Errorf("want config's one-line IPv4-only error, got:\n%s", msg)
	}
}

// The config rule above holds because the accelerator takes IPv4 only: an
// unset IpAddressType is IPV4 (AWS::GlobalAccelerator::Accelerator).
func TestAcceleratorIsIPv4Only(t *testing.T) {
	acc := synth(t).stack(t, naming.BackupStack).one(t, "AWS::GlobalAccelerator::Accelerator", map[string]any{"Name": names.Accelerator()})
	if v, set := acc.Properties["IpAddressType"]; set && v != "IPV4" {
		t.Errorf("accelerator IpAddressType = %v: config refuses IPv6 producers because the accelerator is IPv4-only", v)
	}
}
