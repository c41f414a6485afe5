package scaffold

import "strings"

// The CI runners: a GitHub Actions workflow and a GitLab CI job, each
// running `promoter run` on a schedule, one run at a time.

// A GitHub Actions workflow, the fields the scaffold sets.
type workflow struct {
	Name        string            `json:"name"`
	On          workflowTriggers  `json:"on"`
	Permissions map[string]string `json:"permissions"`
	Concurrency struct {
		Group            string `json:"group"`
		CancelInProgress bool   `json:"cancel-in-progress"`
	} `json:"concurrency"`
	Jobs map[string]workflowJob `json:"jobs"`
}

type workflowTriggers struct {
	Schedule         []map[string]string `json:"schedule"`
	WorkflowDispatch struct{}            `json:"workflow_dispatch"`
}

type workflowJob struct {
	RunsOn         string         `json:"runs-on"`
	TimeoutMinutes int            `json:"timeout-minutes"`
	Steps          []workflowStep `json:"steps"`
}

type workflowStep struct {
	Name string            `json:"name"`
	Uses string            `json:"uses,omitempty"`
	With map[string]string `json:"with,omitempty"`
	Env  map[string]string `json:"env,omitempty"`
	Run  string            `json:"run,omitempty"`
}

// PromoterAction is the `uses:` reference of promoter's GitHub Action
// (action.yml at the root of promoter's repository).
const PromoterAction = "promoter-dev/promoter@main"

func githubWorkflow(o *Options) *workflow {
	w := &workflow{Name: "promoter"}
	w.On.Schedule = []map[string]string{{"cron": "*/5 * * * *"}}
	w.Permissions = map[string]string{
		"contents":      "write", // push stage commits and branches
		"pull-requests": "write", // open and merge stage pull requests
		"statuses":      "write", // post the gate report on the pull request
	}
	w.Concurrency.Group = "promoter"
	w.Jobs = map[string]workflowJob{"promoter": {
		RunsOn:         "ubuntu-latest",
		TimeoutMinutes: 15,
		Steps: []workflowStep{{
			Name: "promoter run",
			Uses: PromoterAction,
			With: map[string]string{
				"command":        "run",
				"repo":           "${{ github.server_url }}/${{ github.repository }}.git",
				"args":           "--branch " + o.Branch,
				"prometheus-url": "${{ secrets.PROMETHEUS_URL }}",
				"github-token":   "${{ secrets.GITHUB_TOKEN }}",
			},
			Env: map[string]string{
				"PROMETHEUS_TOKEN":  "${{ secrets.PROMETHEUS_TOKEN }}",
				"SLACK_WEBHOOK_URL": "${{ secrets.SLACK_WEBHOOK_URL }}",
			},
		}},
	}}
	return w
}

var workflowHeader = `Runs promoter every 5 minutes (GitHub's shortest schedule) and on demand.
Secrets: PROMETHEUS_URL (reachable from the runner), optional PROMETHEUS_TOKEN and
SLACK_WEBHOOK_URL. With required checks or reviews on the branch, give promoter a token
that may merge (a GitHub App token) instead of GITHUB_TOKEN; pull requests created with
GITHUB_TOKEN do not trigger other workflows.`

// A GitLab CI configuration with one job.
type gitlabCI struct {
	Promoter gitlabJob `json:"promoter"`
}

type gitlabJob struct {
	Image struct {
		Name       string   `json:"name"`
		Entrypoint []string `json:"entrypoint"`
	} `json:"image"`
	ResourceGroup string              `json:"resource_group"`
	Rules         []map[string]string `json:"rules"`
	Variables     map[string]string   `json:"variables"`
	Script        []string            `json:"script"`
	Timeout       string              `json:"timeout"`
}

func gitlabPipeline(o *Options) *gitlabCI {
	var ci gitlabCI
	j := &ci.Promoter
	// The published image with a shell (-ci): no toolchain, no compile
	// per run. Its entrypoint is promoter; the job runs its script instead.
	j.Image.Name = gitlabImage(o.PromoterImage)
	j.Image.Entrypoint = []string{""}
	j.ResourceGroup = "promoter" // one run at a time
	j.Rules = []map[string]string{
		{"if": `$CI_PIPELINE_SOURCE == "schedule"`},
		{"if": `$CI_PIPELINE_SOURCE == "web"`},
	}
	j.Variables = map[string]string{
		"GIT_USERNAME": "oauth2",
		// promoter clones the repository itself.
		"GIT_STRATEGY": "none",
	}
	j.Script = []string{
		"promoter version",
		`promoter run --repo "$CI_SERVER_URL/$CI_PROJECT_PATH.git" --branch ` + o.Branch + ` --log-format json`,
	}
	j.Timeout = "15m"
	return &ci
}

var gitlabHeader = `Runs promoter on a pipeline schedule (CI/CD > Schedules, e.g. */5 * * * *) and by hand.
CI/CD variables (masked): GIT_TOKEN, a project access token with write_repository;
PROMETHEUS_URL; optional PROMETHEUS_TOKEN and SLACK_WEBHOOK_URL. promoter uses its local
forge here: stage branches promoter/<canary>/step-<n>, merged by promoter itself.`

// gitlabImage is the CI variant (with a shell) of the CronJob's image:
// <tag>-ci of a release's image (latest-ci for latest); any other image is
// used as it is.
func gitlabImage(image string) string {
	repo, tag, ok := strings.Cut(image, ":")
	if !ok || repo != PromoterImageRepo || strings.Contains(tag, "/") {
		return image
	}
	if tag == "latest" {
		return repo + ":latest-ci"
	}
	return repo + ":" + tag + "-ci"
}
