package scaffold

import (
	"path"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The GitOps tools that apply the overlay: an Argo CD Application, or a
// Flux GitRepository and Kustomization. Typed partial views of their
// resources, with the fields the scaffold sets.

type argoApplication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Project string `json:"project"`
		Source  struct {
			RepoURL        string `json:"repoURL"`
			TargetRevision string `json:"targetRevision"`
			Path           string `json:"path"`
		} `json:"source"`
		Destination struct {
			Server    string `json:"server"`
			Namespace string `json:"namespace"`
		} `json:"destination"`
		SyncPolicy struct {
			Automated struct {
				Prune    bool `json:"prune"`
				SelfHeal bool `json:"selfHeal"`
			} `json:"automated"`
		} `json:"syncPolicy"`
	} `json:"spec"`
}

func argoCDApplication(o *Options) *argoApplication {
	a := &argoApplication{
		TypeMeta: typeMeta("argoproj.io/v1alpha1", "Application"),
		ObjectMeta: metav1.ObjectMeta{
			Name: o.Name, Namespace: "argocd",
			// Delete the application's resources with the Application.
			Finalizers: []string{"resources-finalizer.argocd.argoproj.io"},
		},
	}
	a.Spec.Project = "default"
	a.Spec.Source.RepoURL = o.GitURL
	a.Spec.Source.TargetRevision = o.Branch
	a.Spec.Source.Path = o.overlayDir()
	a.Spec.Destination.Server = "https://kubernetes.default.svc"
	a.Spec.Destination.Namespace = o.Namespace
	a.Spec.SyncPolicy.Automated.Prune = true
	a.Spec.SyncPolicy.Automated.SelfHeal = true
	return a
}

type fluxGitRepository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Interval string `json:"interval"`
		URL      string `json:"url"`
		Ref      struct {
			Branch string `json:"branch"`
		} `json:"ref"`
		SecretRef *struct {
			Name string `json:"name"`
		} `json:"secretRef,omitempty"`
	} `json:"spec"`
}

type fluxKustomization struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Interval  string `json:"interval"`
		Path      string `json:"path"`
		Prune     bool   `json:"prune"`
		Wait      bool   `json:"wait"`
		Timeout   string `json:"timeout"`
		SourceRef struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"sourceRef"`
	} `json:"spec"`
}

// fluxSource is the GitRepository's name: one per repository, shared by
// every application's Kustomization.
const fluxSource = "gitops"

func fluxResources(o *Options) (*fluxGitRepository, *fluxKustomization) {
	src := &fluxGitRepository{
		TypeMeta:   typeMeta("source.toolkit.fluxcd.io/v1", "GitRepository"),
		ObjectMeta: metav1.ObjectMeta{Name: fluxSource, Namespace: "flux-system"},
	}
	// promoter's stage clocks start when a commit lands; a short interval
	// keeps the sync delay small against the 30 min first step.
	src.Spec.Interval = "1m"
	src.Spec.URL = o.GitURL
	src.Spec.Ref.Branch = o.Branch
	if o.GitSecret != "" {
		src.Spec.SecretRef = &struct {
			Name string `json:"name"`
		}{Name: o.GitSecret}
	}
	k := &fluxKustomization{
		TypeMeta:   typeMeta("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: "flux-system"},
	}
	k.Spec.Interval = "5m"
	k.Spec.Path = "./" + o.overlayDir()
	k.Spec.Prune = true
	k.Spec.Wait = true
	k.Spec.Timeout = "5m"
	k.Spec.SourceRef.Kind = "GitRepository"
	k.Spec.SourceRef.Name = fluxSource
	return src, k
}

func addRunners(o *Options, add func(string, any, string, Comments) error) error {
	if o.runs(RunnerCronJob) {
		if err := addCronJob(o, add); err != nil {
			return err
		}
	}
	if o.runs(RunnerGitHub) {
		if err := add(".github/workflows/promoter.yaml", githubWorkflow(o), workflowHeader, nil); err != nil {
			return err
		}
	}
	if o.runs(RunnerGitLab) {
		if err := add(".gitlab-ci.yml", gitlabPipeline(o), gitlabHeader, nil); err != nil {
			return err
		}
	}
	if o.runs(RunnerArgoCD) {
		if err := add(path.Join("deploy/argocd", o.Name+".yaml"), argoCDApplication(o),
			"Argo CD applies the production overlay of "+o.Name+", promoter's component included.", nil); err != nil {
			return err
		}
	}
	if o.runs(RunnerFlux) {
		src, k := fluxResources(o)
		if err := add(path.Join("deploy/flux", o.Name+".yaml"), stream{src, k},
			"Flux applies the production overlay of "+o.Name+", promoter's component included.\n"+
				"The GitRepository is shared by every application of this repository.\n"+fluxSecretNote(o), nil); err != nil {
			return err
		}
	}
	return nil
}

// fluxSecretNote tells how the GitRepository reaches a private repository.
func fluxSecretNote(o *Options) string {
	name := o.GitSecret
	if name == "" {
		name = "gitops-auth"
	}
	note := "A private repository needs credentials in flux-system, for example over https:\n" +
		"  flux create secret git " + name + " --url=" + o.GitURL + " --username=git --password=$TOKEN\n"
	if o.GitSecret == "" {
		return note + "and spec.secretRef: {name: " + name + "} below (promoter init --git-secret " + name + " writes it)."
	}
	return note + "spec.secretRef names it."
}
