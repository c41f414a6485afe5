package scaffold

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promoter-dev/promoter/internal/spec"
)

// featureFlag is one flag of the feature-flags ConfigMap, as the guide
// writes them.
type featureFlag struct {
	Enabled           bool   `json:"enabled"`
	RolloutPercentage int    `json:"rollout_percentage"`
	Description       string `json:"description"`
}

// flagName is the flag the Canary spec ties to the canary's weight.
func (o *Options) flagName() string { return o.Name + "-canary" }

// featureFlags is the feature-flags ConfigMap: its flags.json holds the
// application's flags, each with enabled and rollout_percentage. The
// Canary spec's featureFlag names the flag whose rollout_percentage
// promoter keeps equal to the canary's weight; 0 is what applies before a
// canary starts and after a rollback.
func featureFlags(o *Options) (*corev1.ConfigMap, error) {
	flags := map[string]featureFlag{
		o.flagName(): {Enabled: true, RolloutPercentage: 0,
			Description: "The features of the version under canary. promoter keeps rollout_percentage equal to the canary's weight (featureFlag in canary.yaml); 0 applies between canaries and after a rollback."},
	}
	data, err := json.MarshalIndent(flags, "", "  ")
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		TypeMeta: typeMeta("v1", "ConfigMap"),
		ObjectMeta: metav1.ObjectMeta{
			Name: spec.DefaultFlagConfigMap, Namespace: o.Namespace, Labels: map[string]string{"app": o.Name},
		},
		Data: map[string]string{spec.DefaultFlagKey: string(data) + "\n"},
	}, nil
}
