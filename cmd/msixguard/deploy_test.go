package main

// Tests of the deployment files: docker-compose.yml, deploy/kubernetes,
// deploy/grafana and deploy/prometheus. No Docker, cluster, Grafana or
// Prometheus is needed; tools that can check more (docker-compose,
// promtool) are used when they are on PATH, and their tests skip otherwise.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestDockerComposeConfig has docker-compose (or `docker compose`) validate
// the top-level docker-compose.yml.
func TestDockerComposeConfig(t *testing.T) {
	file := filepath.Join(repoRoot(t), "docker-compose.yml")
	var cmd *exec.Cmd
	if p, err := exec.LookPath("docker-compose"); err == nil {
		cmd = exec.Command(p, "-f", file, "config", "-q")
	} else if p, err := exec.LookPath("docker"); err == nil && exec.Command(p, "compose", "version").Run() == nil {
		cmd = exec.Command(p, "compose", "-f", file, "config", "-q")
	} else {
		t.Skip("neither docker-compose nor the docker compose plugin is on PATH (Debian: apt-get install docker-compose)")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}

// composeFile is the part of docker-compose.yml the checks below read.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
	} `yaml:"services"`
}

// TestDockerComposeSettings checks what docker-compose cannot: every
// MSIXGUARD_* variable names a flag of `msixguard run`, the replicas listen on
// all interfaces, and the replay reads the file the Dockerfile puts in the
// image.
func TestDockerComposeSettings(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	run := newRunCmd()
	replicas := 0
	for name, svc := range cf.Services {
		for k, v := range svc.Environment {
			if !strings.HasPrefix(k, envPrefix) {
				continue
			}
			flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, envPrefix), "_", "-"))
			f := run.Flags().Lookup(flag)
			if f == nil {
				t.Errorf("service %s: %s is no flag of msixguard run", name, k)
				continue
			}
			if err := f.Value.Set(v); err != nil {
				t.Errorf("service %s: %s=%q: %v", name, k, v, err)
			}
		}
		if len(svc.Command) > 0 && svc.Command[0] == "run" {
			replicas++
			if got := svc.Environment["MSIXGUARD_METRICS_ADDR"]; !strings.HasPrefix(got, "0.0.0.0:") {
				t.Errorf("service %s: MSIXGUARD_METRICS_ADDR=%q; the published port needs 0.0.0.0", name, got)
			}
		}
		if len(svc.Command) > 1 && svc.Command[0] == "replay" {
			if !bytes.Contains(dockerfile, []byte(svc.Command[1])) {
				t.Errorf("service %s replays %s, which the Dockerfile does not copy into the image", name, svc.Command[1])
			}
		}
	}
	if replicas < 2 {
		t.Errorf("docker-compose.yml has %d msixguard run replicas, want 2", replicas)
	}
	// The sample data the Dockerfile copies must exist.
	for _, line := range strings.Split(string(dockerfile), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "COPY" && strings.HasPrefix(f[1], "--from=build") && strings.HasPrefix(f[2], "/src/") {
			if _, err := os.Stat(filepath.Join(root, strings.TrimPrefix(f[2], "/src/"))); err != nil {
				t.Errorf("Dockerfile: %s: %v", line, err)
			}
		}
	}
}

// k8sObject is one Kubernetes manifest, loosely typed.
type k8sObject map[string]any

func (o k8sObject) str(path ...string) string {
	v, _ := dig(map[string]any(o), path...).(string)
	return v
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// readManifests parses every document of every .yaml file in dir.
func readManifests(t *testing.T, dir string) map[string][]k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	out := map[string][]k8sObject{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			// Into a plain map: nested mappings then decode as
			// map[string]any too (into a named map type they would take
			// that type).
			var raw map[string]any
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if raw == nil {
				continue
			}
			o := k8sObject(raw)
			if o.str("apiVersion") == "" || o.str("kind") == "" {
				t.Errorf("%s: a document without apiVersion or kind", f)
			}
			if o.str("kind") != "Kustomization" && o.str("metadata", "name") == "" {
				t.Errorf("%s: %s without metadata.name", f, o.str("kind"))
			}
			out[filepath.Base(f)] = append(out[filepath.Base(f)], o)
		}
	}
	return out
}

// TestKubernetesManifests parses deploy/kubernetes and checks that its parts
// fit together: the Deployment's probes, port, security context, mounts and
// selectors against the ConfigMap, Secret, Service and PodDisruptionBudget.
func TestKubernetesManifests(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "deploy", "kubernetes")
	files := readManifests(t, dir)
	byKind := map[string]k8sObject{}
	for _, objs := range files {
		for _, o := range objs {
			if _, dup := byKind[o.str("kind")]; dup {
				t.Fatalf("two %s manifests; the checks below expect one", o.str("kind"))
			}
			byKind[o.str("kind")] = o
		}
	}
	for _, kind := range []string{"Kustomization", "Namespace", "Deployment", "ConfigMap", "Secret", "Service", "PodDisruptionBudget"} {
		if byKind[kind] == nil {
			t.Fatalf("deploy/kubernetes has no %s", kind)
		}
	}

	// kustomization.yaml lists every other manifest, and only existing ones.
	var listed []string
	for _, r := range byKind["Kustomization"]["resources"].([]any) {
		listed = append(listed, r.(string))
	}
	for f := range files {
		if f != "kustomization.yaml" && !slices.Contains(listed, f) {
			t.Errorf("kustomization.yaml does not list %s", f)
		}
	}
	for _, f := range listed {
		if files[f] == nil {
			t.Errorf("kustomization.yaml lists %s, which does not exist", f)
		}
	}

	dep := byKind["Deployment"]
	podLabels, _ := dig(map[string]any(dep), "spec", "template", "metadata", "labels").(map[string]any)
	selects := func(what string, sel any) {
		m, _ := sel.(map[string]any)
		if len(m) == 0 {
			t.Errorf("%s: empty selector", what)
		}
		for k, v := range m {
			if podLabels[k] != v {
				t.Errorf("%s selects %s=%v, which the pod template does not carry", what, k, v)
			}
		}
	}
	selects("Deployment", dig(map[string]any(dep), "spec", "selector", "matchLabels"))
	selects("Service", dig(map[string]any(byKind["Service"]), "spec", "selector"))
	selects("PodDisruptionBudget", dig(map[string]any(byKind["PodDisruptionBudget"]), "spec", "selector", "matchLabels"))

	pod, _ := dig(map[string]any(dep), "spec", "template", "spec").(map[string]any)
	if dig(pod, "securityContext", "runAsNonRoot") != true {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if uid, _ := dig(pod, "securityContext", "runAsUser").(int); uid == 0 {
		t.Error("pod securityContext.runAsUser is unset or 0 (distroless nonroot is 65532)")
	}
	containers, _ := pod["containers"].([]any)
	if len(containers) != 1 {
		t.Fatalf("want one container, got %d", len(containers))
	}
	c := containers[0].(map[string]any)
	if dig(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Error("container securityContext.readOnlyRootFilesystem is not true")
	}
	if dig(c, "securityContext", "allowPrivilegeEscalation") != false {
		t.Error("container securityContext.allowPrivilegeEscalation is not false")
	}
	if dig(c, "resources", "requests") == nil || dig(c, "resources", "limits") == nil {
		t.Error("container has no resource requests or limits")
	}
	var args []string
	for _, a := range c["args"].([]any) {
		args = append(args, a.(string))
	}
	flagValue := func(name string) string {
		i := slices.Index(args, name)
		if i < 0 || i+1 >= len(args) {
			return ""
		}
		return args[i+1]
	}
	if len(args) == 0 || args[0] != "run" {
		t.Errorf("container args %q do not start with run", args)
	}
	if got := flagValue("--metrics-addr"); got != "0.0.0.0:9464" {
		t.Errorf("--metrics-addr %q, want 0.0.0.0:9464", got)
	}
	ports, _ := c["ports"].([]any)
	portByName := map[string]int{}
	for _, p := range ports {
		pm := p.(map[string]any)
		name, _ := pm["name"].(string)
		portByName[name], _ = pm["containerPort"].(int)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if got, _ := dig(c, probe, "httpGet", "path").(string); got != path {
			t.Errorf("%s path %q, want %s", probe, got, path)
		}
		port := dig(c, probe, "httpGet", "port")
		if name, ok := port.(string); ok {
			port = portByName[name]
		}
		if port != 9464 {
			t.Errorf("%s port %v, want 9464", probe, port)
		}
	}

	// Mounts: the --config file and every path the config names come from
	// the ConfigMap or the Secret.
	mountOf := map[string]string{} // volume name → mount path
	for _, m := range c["volumeMounts"].([]any) {
		mm := m.(map[string]any)
		mountOf[mm["name"].(string)] = mm["mountPath"].(string)
	}
	files2 := map[string]bool{} // absolute paths of the files the volumes provide
	cm, secret := byKind["ConfigMap"], byKind["Secret"]
	for _, v := range pod["volumes"].([]any) {
		vm := v.(map[string]any)
		name := vm["name"].(string)
		dirPath, ok := mountOf[name]
		if !ok {
			t.Errorf("volume %s is not mounted", name)
			continue
		}
		switch {
		case dig(vm, "configMap", "name") != nil:
			if dig(vm, "configMap", "name") != cm.str("metadata", "name") {
				t.Errorf("volume %s names ConfigMap %v, not %s", name, dig(vm, "configMap", "name"), cm.str("metadata", "name"))
			}
			for k := range cm["data"].(map[string]any) {
				files2[dirPath+"/"+k] = true
			}
		case dig(vm, "secret", "secretName") != nil:
			if dig(vm, "secret", "secretName") != secret.str("metadata", "name") {
				t.Errorf("volume %s names Secret %v, not %s", name, dig(vm, "secret", "secretName"), secret.str("metadata", "name"))
			}
			items, _ := dig(vm, "secret", "items").([]any)
			for _, it := range items {
				im := it.(map[string]any)
				if dig(map[string]any(secret), "stringData", im["key"].(string)) == nil && dig(map[string]any(secret), "data", im["key"].(string)) == nil {
					t.Errorf("volume %s: the Secret has no key %v", name, im["key"])
				}
				files2[dirPath+"/"+im["path"].(string)] = true
			}
		}
	}
	configPath := flagValue("--config")
	if !files2[configPath] {
		t.Fatalf("--config %s is not a file of a mounted volume (have %v)", configPath, files2)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(dig(map[string]any(cm), "data", filepath.Base(configPath)).(string)), &cfg); err != nil {
		t.Fatalf("ConfigMap %s: %v", filepath.Base(configPath), err)
	}
	for _, key := range []string{"sasl-password-file", "tuning", "tls-ca", "tls-cert", "tls-key"} {
		if p, ok := cfg[key].(string); ok && !files2[p] {
			t.Errorf("config %s: %s is not a file of a mounted volume", key, p)
		}
	}
	if cfg["sasl-password-file"] == nil {
		t.Error("config has no sasl-password-file (the password should come from the Secret, as a file)")
	}
	if _, ok := cfg["sasl-password"]; ok {
		t.Error("config holds sasl-password in the clear; use sasl-password-file and the Secret")
	}
	if drain, err := time.ParseDuration(cfg["drain-timeout"].(string)); err != nil {
		t.Errorf("drain-timeout: %v", err)
	} else if grace, _ := pod["terminationGracePeriodSeconds"].(int); time.Duration(grace)*time.Second <= drain {
		t.Errorf("terminationGracePeriodSeconds %d does not exceed drain-timeout %s", grace, drain)
	}
}

// testKubernetesConfigAccepted hands the ConfigMap's files to the real
// binary: `run --config … --print-config` must accept every key and value
// (with the container's own flags), and `check --tuning` the tuning file.
// TestOpsBinary runs it.
func testKubernetesConfigAccepted(t *testing.T, bin string) {
	dir := filepath.Join(repoRoot(t), "deploy", "kubernetes")
	var cm k8sObject
	for _, objs := range readManifests(t, dir) {
		for _, o := range objs {
			if o.str("kind") == "ConfigMap" {
				cm = o
			}
		}
	}
	if cm == nil {
		t.Fatal("no ConfigMap")
	}
	tmp := t.TempDir()
	config := filepath.Join(tmp, "config.yaml")
	if err := os.WriteFile(config, []byte(cm.str("data", "config.yaml")), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runMsixguard(t, bin, nil, 30*time.Second, "run", "--config", config, "--metrics-addr", "0.0.0.0:9464", "--print-config")
	if res.code != 0 {
		t.Fatalf("run --print-config with the ConfigMap's config.yaml: exit %d\n%s", res.code, res.stderr)
	}
	for _, want := range []string{`metrics-addr: "0.0.0.0:9464"`, `sasl-password-file: "/run/secrets/kafka/password"`, `tls: "true"`} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("print-config lacks %s:\n%s", want, res.stdout)
		}
	}
	tuning := filepath.Join(tmp, "tuning.yml")
	if err := os.WriteFile(tuning, []byte(cm.str("data", "tuning.yml")), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(tmp, "empty.ndjson")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := runMsixguard(t, bin, nil, 30*time.Second, "check", "--tuning", tuning, empty); res.code != 0 {
		t.Fatalf("check --tuning with the ConfigMap's tuning.yml: exit %d\n%s", res.code, res.stderr)
	}
}

// grafanaDashboard is the part of the dashboard JSON the checks read.
type grafanaDashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		GridPos struct {
			X, Y, W, H int
		} `json:"gridPos"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// TestGrafanaDashboard checks that deploy/grafana/msixguard.json is valid
// JSON, its panels are laid out and have queries, every metric it queries is
// one `msixguard run` exports, and it covers what operators watch.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "grafana", "msixguard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatal("deploy/grafana/msixguard.json is not valid JSON")
	}
	var d grafanaDashboard
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard without uid or title")
	}
	known := registeredNames(t)
	var exprs []string
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			exprs = append(exprs, v.Definition)
		}
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q: empty expr", p.Title)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	all := strings.Join(exprs, "\n")
	for _, e := range exprs {
		if bad := unknownMetrics(e, known); len(bad) > 0 {
			t.Errorf("dashboard queries %v, which msixguard run does not export: %s", bad, e)
		}
	}
	for _, want := range []string{
		"msixguard_records_consumed_total", "msixguard_records_matched_total", "msixguard_consumer_lag_records",
		"msixguard_watermark_age_seconds", "msixguard_open_windows", "msixguard_open_groups",
		"msixguard_dlq_writes_total", "msixguard_late_events_total", "msixguard_risk_messages_total",
		"msixguard_rebalances_total", "msixguard_end_to_end_latency_seconds_bucket",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("dashboard does not show %s", want)
		}
	}
	if !strings.Contains(all, "by (kind)") {
		t.Error("dashboard does not break risk messages down by kind")
	}
}

// promRules is the Prometheus rule file format.
type promRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestPrometheusAlerts parses deploy/prometheus/alerts.yml: valid YAML in
// the rule file format, every alert with a severity and a summary, every
// metric one msixguard exports. With promtool on PATH it also checks the
// PromQL and runs the rule unit tests in alerts_test.yml.
func TestPrometheusAlerts(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "deploy", "prometheus")
	data, err := os.ReadFile(filepath.Join(dir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rf promRules
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	known := registeredNames(t)
	n := 0
	for _, g := range rf.Groups {
		if g.Name == "" {
			t.Error("a rule group without a name")
		}
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" {
				t.Errorf("group %s: a rule without alert name or expr", g.Name)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: no severity label or summary annotation", r.Alert)
			}
			if bad := unknownMetrics(r.Expr, known); len(bad) > 0 {
				t.Errorf("%s queries %v, which msixguard run does not export", r.Alert, bad)
			}
			if !strings.Contains(r.Expr, "msixguard_") {
				t.Errorf("%s queries no msixguard metric", r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	// docs/operations.md describes every alert.
	ops, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if !bytes.Contains(ops, []byte(r.Alert)) {
				t.Errorf("docs/operations.md does not describe %s", r.Alert)
			}
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not on PATH (Debian: apt-get install prometheus): PromQL and rule unit tests not run")
		return
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
