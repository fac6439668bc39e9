package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// envPrefix is the prefix of environment variables: --input-topic is
// MSIXGUARD_INPUT_TOPIC.
const envPrefix = "MSIXGUARD_"

func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// secretFlags are masked by --print-config and never logged.
var secretFlags = map[string]bool{"sasl-password": true}

// applyConfig fills flags not given on the command line from MSIXGUARD_*
// variables, then from the YAML config file: flags > env > file > defaults.
func applyConfig(c *cobra.Command, configFile string) error {
	var file map[string]any
	if configFile != "" {
		data, err := os.ReadFile(configFile)
		if err != nil {
			return usageErr("config: %w", err)
		}
		if err := yaml.Unmarshal(data, &file); err != nil {
			return usageErr("config %s: %w", configFile, err)
		}
		for k := range file {
			if c.Flags().Lookup(k) == nil || k == "config" {
				return usageErr("config %s: unknown key %q (keys are the flag names, e.g. input-topic)", configFile, k)
			}
		}
	}
	var errs []error
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := c.Flags().Set(f.Name, v); err != nil {
				errs = append(errs, usageErr("%s=%q: %w", envName(f.Name), v, err))
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			s := fmt.Sprint(v)
			if list, ok := v.([]any); ok {
				parts := make([]string, len(list))
				for i, x := range list {
					parts[i] = fmt.Sprint(x)
				}
				s = strings.Join(parts, ",")
			}
			if err := c.Flags().Set(f.Name, s); err != nil {
				errs = append(errs, usageErr("config %s: %s: %w", configFile, f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// printConfig writes the effective configuration as YAML, secrets masked.
func printConfig(c *cobra.Command) error {
	out := map[string]string{}
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || f.Name == "print-config" {
			return
		}
		v := f.Value.String()
		if secretFlags[f.Name] && v != "" {
			v = "********"
		}
		out[f.Name] = v
	})
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w := c.OutOrStdout()
	for _, k := range keys {
		fmt.Fprintf(w, "%s: %q    # env %s\n", k, out[k], envName(k))
	}
	return nil
}

// securityFlags are the TLS and SASL settings.
type securityFlags struct {
	tls                bool
	caFile             string
	certFile, keyFile  string
	serverName         string
	insecureSkipVerify bool
	mechanism          string
	username           string
	password           string
	passwordFile       string
}

func (s *securityFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.BoolVar(&s.tls, "tls", false, "connect to brokers with TLS")
	f.StringVar(&s.caFile, "tls-ca", "", "PEM file of CAs to trust (default: the system pool)")
	f.StringVar(&s.certFile, "tls-cert", "", "PEM client certificate (mutual TLS)")
	f.StringVar(&s.keyFile, "tls-key", "", "PEM client key (mutual TLS)")
	f.StringVar(&s.serverName, "tls-server-name", "", "server name to verify (default: the broker host)")
	f.BoolVar(&s.insecureSkipVerify, "tls-insecure-skip-verify", false, "do not verify broker certificates (testing only)")
	f.StringVar(&s.mechanism, "sasl-mechanism", "", "SASL mechanism: plain, scram-sha-256, scram-sha-512 (empty: none)")
	f.StringVar(&s.username, "sasl-username", "", "SASL user")
	f.StringVar(&s.password, "sasl-password", "", "SASL password (prefer --sasl-password-file or MSIXGUARD_SASL_PASSWORD)")
	f.StringVar(&s.passwordFile, "sasl-password-file", "", "file holding the SASL password")
}

func (s *securityFlags) build() (*tls.Config, sasl.Mechanism, error) {
	var tc *tls.Config
	if s.tls || s.caFile != "" || s.certFile != "" {
		tc = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.serverName, InsecureSkipVerify: s.insecureSkipVerify}
		if s.caFile != "" {
			pem, err := os.ReadFile(s.caFile)
			if err != nil {
				return nil, nil, usageErr("--tls-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, nil, usageErr("--tls-ca %s: no PEM certificates in it", s.caFile)
			}
			tc.RootCAs = pool
		}
		if (s.certFile == "") != (s.keyFile == "") {
			return nil, nil, usageErr("--tls-cert and --tls-key go together")
		}
		if s.certFile != "" {
			cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
			if err != nil {
				return nil, nil, usageErr("--tls-cert/--tls-key: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
	}
	if s.mechanism == "" {
		return tc, nil, nil
	}
	pw := s.password
	if s.passwordFile != "" {
		b, err := os.ReadFile(s.passwordFile)
		if err != nil {
			return nil, nil, usageErr("--sasl-password-file: %w", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	if s.username == "" || pw == "" {
		return nil, nil, usageErr("--sasl-mechanism %s needs --sasl-username and a password", s.mechanism)
	}
	switch strings.ToLower(s.mechanism) {
	case "plain":
		return tc, plain.Mechanism{Username: s.username, Password: pw}, nil
	case "scram-sha-256", "scram-sha-512":
		algo := scram.SHA256
		if strings.HasSuffix(strings.ToLower(s.mechanism), "512") {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, s.username, pw)
		if err != nil {
			return nil, nil, usageErr("--sasl-mechanism: %w", err)
		}
		return tc, m, nil
	}
	return nil, nil, usageErr("--sasl-mechanism %q: want plain, scram-sha-256 or scram-sha-512", s.mechanism)
}
