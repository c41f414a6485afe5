package scaffold

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// lintWorkflow runs actionlint on a workflow inside a throwaway repository
// (with extra files beside it) and returns its findings.
func lintWorkflow(t *testing.T, workflow []byte, extra map[string][]byte) []*actionlint.Error {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{".github/workflows/promoter.yaml": workflow}
	for p, data := range extra {
		files[p] = data
	}
	for p, data := range files {
		target := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	l, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{WorkingDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.LintFile(filepath.Join(dir, ".github/workflows/promoter.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

func TestGitHubWorkflowPassesActionlint(t *testing.T) {
	for name, o := range optionCases() {
		if !slices.Contains(o.Runners, RunnerGitHub) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			wf := generate(t, o)[".github/workflows/promoter.yaml"]
			for _, e := range lintWorkflow(t, wf, nil) {
				t.Errorf("actionlint: %s", e.Error())
			}
			var w struct {
				On          map[string]any    `yaml:"on"`
				Permissions map[string]string `yaml:"permissions"`
				Jobs        map[string]struct {
					Steps []struct {
						Uses string            `yaml:"uses"`
						With map[string]string `yaml:"with"`
					} `yaml:"steps"`
				} `yaml:"jobs"`
			}
			if err := yaml.Unmarshal(wf, &w); err != nil {
				t.Fatal(err)
			}
			if _, ok := w.On["schedule"]; !ok {
				t.Error("no schedule trigger")
			}
			if _, ok := w.On["workflow_dispatch"]; !ok {
				t.Error("no workflow_dispatch trigger")
			}
			step := w.Jobs["promoter"].Steps[0]
			if step.Uses != PromoterAction || step.With["command"] != "run" {
				t.Errorf("step %+v does not run promoter run", step)
			}
			if !strings.HasPrefix(step.With["github-token"], "${{ secrets.") {
				t.Errorf("github-token %q is not a secret", step.With["github-token"])
			}
		})
	}
}

// TestActionlintCatchesMistakes makes sure the lint can fail, and that a
// workflow using the repository's own action.yml as a local action gets
// its inputs checked against it.
func TestActionlintCatchesMistakes(t *testing.T) {
	bad := []byte("on: {schedule: [{cron: '*/5 * * *'}]}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n")
	if len(lintWorkflow(t, bad, nil)) == 0 {
		t.Fatal("actionlint accepted a broken workflow")
	}
}

// TestActionMetadata lints the GitHub Action at the repository root by
// using it as a local action in the generated workflow: actionlint then
// checks the workflow's inputs against action.yml's.
func TestActionMetadata(t *testing.T) {
	action, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Skip("no action.yml at the repository root")
	}
	wf := generate(t, exampleOptions())[".github/workflows/promoter.yaml"]
	local := bytes.ReplaceAll(wf, []byte(PromoterAction), []byte("./"))
	for _, e := range lintWorkflow(t, local, map[string][]byte{"action.yml": action}) {
		t.Errorf("actionlint with action.yml: %s", e.Error())
	}
	misspelt := bytes.ReplaceAll(local, []byte("prometheus-url:"), []byte("prometheus_url:"))
	if len(lintWorkflow(t, misspelt, map[string][]byte{"action.yml": action})) == 0 {
		t.Error("an input action.yml does not declare was accepted")
	}
	var md struct {
		Inputs map[string]struct {
			Required bool `yaml:"required"`
		} `yaml:"inputs"`
		Runs struct {
			Using string `yaml:"using"`
			Steps []struct {
				Run string            `yaml:"run"`
				Env map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(action, &md); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"command", "args", "repo", "prometheus-url", "github-token"} {
		if _, ok := md.Inputs[in]; !ok {
			t.Errorf("action.yml: no input %s", in)
		}
	}
	// Inputs reach the shell through the environment only: an expression in
	// a run script is a script injection, and a token there lands in logs.
	for _, s := range md.Runs.Steps {
		if strings.Contains(s.Run, "${{") {
			t.Errorf("action.yml: a run script expands an expression:\n%s", s.Run)
		}
	}
}

func TestCronJobHasNoKubernetesAccess(t *testing.T) {
	o := exampleOptions()
	files := generate(t, o)
	var cj batchv1.CronJob
	decodeFile(t, files, "deploy/promoter/cronjob.yaml", &cj)
	var sa corev1.ServiceAccount
	decodeFile(t, files, "deploy/promoter/serviceaccount.yaml", &sa)
	if cj.Spec.Schedule != "*/5 * * * *" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("schedule %q, concurrency %s", cj.Spec.Schedule, cj.Spec.ConcurrencyPolicy)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if pod.ServiceAccountName != sa.Name || sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken ||
		pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the ServiceAccount token must not be mounted")
	}
	for p, data := range files {
		for _, kind := range []string{"kind: Role", "kind: ClusterRole", "kind: RoleBinding", "kind: ClusterRoleBinding"} {
			if bytes.Contains(data, []byte(kind+"\n")) {
				t.Errorf("%s grants Kubernetes API access (%s)", p, kind)
			}
		}
	}
	if cj.Spec.JobTemplate.Spec.Template.Labels["sidecar.istio.io/inject"] != "false" {
		t.Error("an Istio sidecar would keep the Job from completing")
	}
	c := pod.Containers[0]
	if c.Args[0] != "run" {
		t.Errorf("args %v do not run promoter run", c.Args)
	}
	tokens := 0
	for _, e := range c.Env {
		if strings.Contains(e.Name, "TOKEN") {
			tokens++
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.Value != "" {
				t.Errorf("%s is not read from a Secret", e.Name)
			}
		}
	}
	if tokens == 0 {
		t.Error("no token in the environment")
	}
	if strings.Contains(strings.Join(c.Args, " "), "token") {
		t.Errorf("a token on the command line: %v", c.Args)
	}
}

func TestGitLabAndGitOpsTools(t *testing.T) {
	o := Options{Name: "shop", Namespace: "shop", GitURL: "https://git.example.com/ops.git", Branch: "prod", Runners: Runners}
	files := generate(t, o)
	var ci map[string]struct {
		Rules  []map[string]string `yaml:"rules"`
		Script []string            `yaml:"script"`
	}
	if err := yaml.Unmarshal(files[".gitlab-ci.yml"], &ci); err != nil {
		t.Fatal(err)
	}
	job := ci["promoter"]
	if len(job.Script) == 0 || !strings.Contains(job.Script[len(job.Script)-1], "promoter run") ||
		!strings.Contains(job.Script[len(job.Script)-1], "--branch prod") {
		t.Errorf("GitLab script %v does not run promoter run on prod", job.Script)
	}
	if len(job.Rules) == 0 || !strings.Contains(job.Rules[0]["if"], `"schedule"`) {
		t.Errorf("GitLab rules %v do not run on a schedule", job.Rules)
	}
	overlay := "apps/shop/overlays/production"
	for _, p := range []string{"deploy/argocd/shop.yaml", "deploy/flux/shop.yaml"} {
		data := string(files[p])
		for _, want := range []string{o.GitURL, overlay, "prod"} {
			if !strings.Contains(data, want) {
				t.Errorf("%s does not mention %s:\n%s", p, want, data)
			}
		}
	}
	if none := generate(t, Options{Name: "shop", Namespace: "shop", Runners: []string{"none"}}); len(none) >= len(files) {
		t.Error("--runners none wrote the runners")
	} else {
		for p := range none {
			if strings.HasPrefix(p, "deploy/") || strings.HasPrefix(p, ".git") {
				t.Errorf("--runners none wrote %s", p)
			}
		}
	}
}
