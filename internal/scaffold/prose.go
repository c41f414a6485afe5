package scaffold

import (
	"bytes"
	"text/template"
)

// deployReadme explains the generated ways to run promoter. It is prose,
// so it is a template; every manifest is generated from typed values.
var deployReadme = template.Must(template.New("deploy").Parse(`# Running promoter for this repository

promoter needs Git (push access to this repository) and Prometheus (read access). It never
talks to the Kubernetes API. Run it one way, on a schedule: every run is one reconcile pass
over all canaries, and a run that is killed is carried on by the next one.
{{if .CronJob}}
## Kubernetes CronJob: deploy/promoter/

Every 5 minutes, one run at a time (concurrencyPolicy: Forbid). Its ServiceAccount has no
Kubernetes API token mounted and no Role or RoleBinding. Create the credentials, then apply:

    kubectl create namespace promoter
    kubectl -n promoter create secret generic promoter-credentials \
      --from-literal=git-token=<token that can push to {{.GitURL}}> \
      --from-literal=prometheus-token=<optional bearer token> \
      --from-literal=slack-webhook-url=<optional Slack webhook URL>
    kubectl apply -k deploy/promoter

Prometheus: {{.PrometheusURL}}. Change --repo, --branch and --prometheus in cronjob.yaml.
{{end}}{{if .GitHub}}
## GitHub Actions: .github/workflows/promoter.yaml

Every 5 minutes and on demand (workflow_dispatch), with the promoter action. Set the
repository secret PROMETHEUS_URL (and PROMETHEUS_TOKEN, SLACK_WEBHOOK_URL if used).
{{end}}{{if .GitLab}}
## GitLab CI: .gitlab-ci.yml

Create a pipeline schedule (CI/CD > Schedules, every 5 minutes) and the masked CI/CD
variables GIT_TOKEN (a project access token with write_repository) and PROMETHEUS_URL.
{{end}}{{if .ArgoCD}}
## Argo CD: deploy/argocd/{{.Name}}.yaml

    kubectl apply -f deploy/argocd/{{.Name}}.yaml
{{end}}{{if .Flux}}
## Flux: deploy/flux/{{.Name}}.yaml

    kubectl apply -f deploy/flux/{{.Name}}.yaml
{{end}}`))

// addProse writes deploy/README.md with the repository-wide runners (a
// second application, scaffolded with only argocd and flux, leaves it be).
func addProse(o *Options, files Files) error {
	if !o.runs(RunnerCronJob) && !o.runs(RunnerGitHub) && !o.runs(RunnerGitLab) {
		return nil
	}
	var buf bytes.Buffer
	err := deployReadme.Execute(&buf, map[string]any{
		"Name": o.Name, "GitURL": o.GitURL, "PrometheusURL": o.PrometheusURL,
		"CronJob": o.runs(RunnerCronJob), "GitHub": o.runs(RunnerGitHub), "GitLab": o.runs(RunnerGitLab),
		"ArgoCD": o.runs(RunnerArgoCD), "Flux": o.runs(RunnerFlux),
	})
	if err != nil {
		return err
	}
	files["deploy/README.md"] = buf.Bytes()
	return nil
}
