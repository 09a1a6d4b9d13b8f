// gitops-health reads one Kubernetes object (JSON or YAML, from a file or stdin) and prints how
// GitOps tools judge it, as JSON:
//
//	{"kstatus":{"status":"InProgress","message":"..."},"argocd":{"status":"Progressing","message":"..."}}
//
// kstatus is sigs.k8s.io/cli-utils' status.Compute, the library Flux, `kubectl wait`-style tools
// and cli-utils appliers use. argocd runs a health script the way Argo CD runs a
// resource.customizations.health script: gopher-lua with only the package, base and table
// libraries opened, the object as the global `obj` (integers as numbers, as Argo CD's decoding of
// an unstructured object gives), a one-second limit, and a returned table {status, message} whose
// status must be one of Argo CD's health codes (anything else reads Unknown, as in Argo CD).
//
// Usage: gitops-health [--lua health.lua] [FILE|-]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type report struct {
	Kstatus verdict  `json:"kstatus"`
	ArgoCD  *verdict `json:"argocd,omitempty"`
}

// Argo CD's health codes (gitops-engine pkg/health).
var argoHealthCodes = map[string]bool{"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true}

func main() {
	script := flag.String("lua", "", "Argo CD health script (Lua) to run on the object")
	flag.Parse()
	if err := run(*script, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "gitops-health:", err)
		os.Exit(1)
	}
}

func run(scriptPath, input string) error {
	raw, err := readInput(input)
	if err != nil {
		return err
	}
	jsonBytes, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return fmt.Errorf("input is neither JSON nor YAML: %w", err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(jsonBytes); err != nil {
		return fmt.Errorf("input is not a Kubernetes object: %w", err)
	}
	result, err := status.Compute(obj)
	if err != nil {
		return fmt.Errorf("kstatus: %w", err)
	}
	out := report{Kstatus: verdict{Status: string(result.Status), Message: result.Message}}
	if scriptPath != "" {
		script, err := os.ReadFile(scriptPath)
		if err != nil {
			return err
		}
		health, err := argoHealth(obj.Object, string(script))
		if err != nil {
			return fmt.Errorf("lua health script: %w", err)
		}
		out.ArgoCD = health
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func readInput(input string) ([]byte, error) {
	if input == "" || input == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(input)
}

func argoHealth(object map[string]interface{}, script string) (*verdict, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, object))
	if err := l.DoString(script); err != nil {
		return nil, err
	}
	returned, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("expect table output from Lua script, not %s", l.Get(-1).Type())
	}
	health := &verdict{Status: luaString(returned.RawGetString("status")), Message: luaString(returned.RawGetString("message"))}
	if !argoHealthCodes[health.Status] {
		return &verdict{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return health, nil
}

func luaString(value lua.LValue) string {
	if value == lua.LNil {
		return ""
	}
	return value.String()
}

func toLua(l *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []interface{}:
		array := l.CreateTable(len(v), 0)
		for _, item := range v {
			array.Append(toLua(l, item))
		}
		return array
	case map[string]interface{}:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetH(lua.LString(key), toLua(l, item))
		}
		return table
	}
	return lua.LNil
}
