package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/edgecam/edgecam/internal/suggest"
)

// EnvPrefix starts every environment variable Load reads. The key path follows, with "__"
// between levels, matched case-insensitively: EDGECAM_AZURE__DPS__IDSCOPE sets azure.dps.idScope.
// Cameras are addressed by index or id: EDGECAM_CAMERAS__0__PASSWORD, EDGECAM_CAMERAS__GARAGE__URL;
// in an id, any character a variable name cannot hold is written '_' (bus-stop: BUS_STOP).
// Variables that name no key (EDGECAM_ORT_LIB, ...) are ignored.
const EnvPrefix = "EDGECAM_"

// FlagAnnotation, set on a pflag.Flag (see BindFlag), names the key the flag sets. Without it a
// flag sets the key its name spells, ignoring case and separators: --schedule.period,
// --schedule-period and --state-dir all work.
const FlagAnnotation = "edgecam/config-key"

// LoadOptions says where Load reads from.
type LoadOptions struct {
	// File is the YAML file; empty means defaults, environment and flags only.
	File string
	// Flags overrides keys with the flags that were set on the command line.
	Flags *pflag.FlagSet
	// Env is the environment as KEY=value strings; nil means os.Environ().
	Env []string
	// Only, when set, limits validation to the keys under these prefixes (e.g. "cameras" for
	// a command that only captures a frame): problems elsewhere are not reported. The daemon
	// always validates everything.
	Only []string
}

// BindFlag makes flag name of fs set key (e.g. BindFlag(fs, "model", "model.path")).
func BindFlag(fs *pflag.FlagSet, name, key string) error {
	return fs.SetAnnotation(name, FlagAnnotation, []string{key})
}

// Load reads the file, then the environment, then the flags, and validates the result (see
// Validate). On failure the error is a *ValidationError listing every problem, or a plain error
// when the file cannot be read or parsed.
func Load(opts LoadOptions) (*Config, error) {
	var probs problems
	raw := map[string]any{}
	if opts.File != "" {
		fk := koanf.New(".")
		if err := fk.Load(file.Provider(opts.File), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("configuration %s: %w", opts.File, err)
		}
		raw = canonicalize(fk.Raw(), rootSchema, "", &probs)
	}
	environ := opts.Env
	if environ == nil {
		environ = os.Environ()
	}
	applyCameraEnv(raw, environ, &probs)

	k := koanf.New(".")
	if err := k.Load(mapProvider(raw), nil); err != nil {
		return nil, err
	}
	if err := k.Load(env.Provider(".", env.Opt{
		Prefix:        EnvPrefix,
		EnvironFunc:   func() []string { return environ },
		TransformFunc: envKey,
	}), nil); err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	if opts.Flags != nil {
		fs := opts.Flags
		if err := k.Load(posflag.ProviderWithFlag(fs, ".", k, func(f *pflag.Flag) (string, any) {
			if !f.Changed {
				return "", nil
			}
			return flagKey(f), posflag.FlagVal(fs, f)
		}), nil); err != nil {
			return nil, fmt.Errorf("flags: %w", err)
		}
	}

	cfg := Default()
	err := k.UnmarshalWithConf("", cfg, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook:       decodeHook,
		WeaklyTypedInput: true,
		TagName:          "koanf",
	}})
	if err != nil {
		probs = append(probs, decodeProblems(err)...)
	} else {
		probs = append(probs, cfg.check()...)
	}
	if len(opts.Only) > 0 {
		probs = probs.under(opts.Only)
	}
	if len(probs) > 0 {
		sortProblems(probs)
		return nil, &ValidationError{Source: opts.File, Problems: probs}
	}
	return cfg, nil
}

// sortProblems orders problems by key (stable, so one key's problems keep their order).
func sortProblems(p problems) {
	sort.SliceStable(p, func(i, j int) bool { return keyLess(p[i].Key, p[j].Key) })
}

// keyLess orders keys in schema order ("model" before "cameras[0]"), cameras by index.
func keyLess(a, b string) bool {
	ra, rb := rootRank(a), rootRank(b)
	if ra != rb {
		return ra < rb
	}
	ia, ib := camIndex(a), camIndex(b)
	if ia != ib {
		return ia < ib
	}
	return false
}

func rootRank(key string) int {
	head := key
	if i := strings.IndexAny(key, ".["); i >= 0 {
		head = key[:i]
	}
	for i, f := range rootSchema.children {
		if f.name == head {
			return i
		}
	}
	return -1 // unknown keys first: a misspelt section explains the problems after it
}

func camIndex(key string) int {
	if !strings.HasPrefix(key, "cameras[") {
		return -1
	}
	end := strings.IndexByte(key, ']')
	n, err := strconv.Atoi(key[len("cameras["):max(end, len("cameras["))])
	if err != nil {
		return -1
	}
	return n
}

// mapProvider hands an already parsed map to koanf.
type mapProvider map[string]any

func (m mapProvider) ReadBytes() ([]byte, error)    { return nil, errors.New("not supported") }
func (m mapProvider) Read() (map[string]any, error) { return m, nil }

// schema is the tree of known keys, built from the koanf tags of Config.
type schema struct {
	name     string
	scalar   string    // a struct a scalar may stand for: the child key it sets (detection.tiles: zones)
	children []*schema // a struct
	elem     *schema   // a list of structs (cameras)
	values   *schema   // a mapping of names to structs (detection.filters)
}

var rootSchema = buildSchema("", reflect.TypeOf(Config{}))

var durationType = reflect.TypeOf(Duration(0))
var stdDurationType = reflect.TypeOf(time.Duration(0))
var stringsType = reflect.TypeOf([]string(nil))

func buildSchema(name string, t reflect.Type) *schema {
	s := &schema{name: name}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("koanf")
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			c := buildSchema(tag, f.Type)
			c.scalar = f.Tag.Get("scalar")
			s.children = append(s.children, c)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		s.elem = buildSchema("", t.Elem())
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Struct:
		s.values = buildSchema("", t.Elem())
	}
	return s
}

func (s *schema) leaf() bool { return s.children == nil && s.elem == nil && s.values == nil }

// child finds a key case-insensitively; with loose it also ignores underscores and dashes.
func (s *schema) child(name string, loose bool) *schema {
	if loose {
		name = strings.NewReplacer("_", "", "-", "").Replace(name)
	}
	for _, c := range s.children {
		if strings.EqualFold(c.name, name) {
			return c
		}
	}
	return nil
}

func (s *schema) names() []string {
	out := make([]string, len(s.children))
	for i, c := range s.children {
		out[i] = c.name
	}
	return out
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// canonicalize rewrites the keys of a parsed file to their canonical spelling and reports
// unknown keys (with the closest known one) and sections of the wrong shape.
func canonicalize(m map[string]any, s *schema, prefix string, probs *problems) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		c := s.child(k, false)
		key := joinKey(prefix, k)
		if c == nil {
			msg := "unknown key"
			if sug := didYouMean(k, s.names()); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", joinKey(prefix, sug))
			} else {
				msg += fmt.Sprintf(" (known keys here: %s)", strings.Join(s.names(), ", "))
			}
			probs.add(key, "%s", msg)
			continue
		}
		key = joinKey(prefix, c.name)
		switch {
		case c.children != nil:
			if v == nil {
				out[c.name] = map[string]any{}
				continue
			}
			sub, ok := v.(map[string]any)
			if str, isStr := v.(string); !ok && isStr && c.scalar != "" {
				sub, ok = map[string]any{c.scalar: str}, true
			}
			if !ok {
				probs.add(key, "expected a mapping with the keys %s, got %s", strings.Join(c.names(), ", "), describe(v))
				continue
			}
			out[c.name] = canonicalize(sub, c, key, probs)
		case c.values != nil:
			if v == nil {
				continue
			}
			sub, ok := v.(map[string]any)
			if !ok {
				probs.add(key, "expected a mapping of labels to {%s}, got %s", strings.Join(c.values.names(), ", "), describe(v))
				continue
			}
			vals := make(map[string]any, len(sub))
			for name, item := range sub {
				ik := joinKey(key, name)
				m, ok := item.(map[string]any)
				if !ok {
					if item != nil {
						probs.add(ik, "expected a mapping with the keys %s, got %s", strings.Join(c.values.names(), ", "), describe(item))
					}
					m = map[string]any{}
				}
				vals[name] = canonicalize(m, c.values, ik, probs)
			}
			out[c.name] = vals
		case c.elem != nil:
			if v == nil {
				continue
			}
			list, ok := v.([]any)
			if !ok {
				probs.add(key, "expected a list, got %s", describe(v))
				continue
			}
			items := make([]any, 0, len(list))
			for i, item := range list {
				ik := fmt.Sprintf("%s[%d]", key, i)
				sub, ok := item.(map[string]any)
				if !ok {
					probs.add(ik, "expected a mapping (id: ..., type: ...), got %s", describe(item))
					sub = map[string]any{}
				}
				items = append(items, canonicalize(sub, c.elem, ik, probs))
			}
			out[c.name] = items
		default:
			out[c.name] = v
		}
	}
	return out
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("%q", v)
	default:
		return fmt.Sprintf("%v", v)
	}
}

// envKey maps EDGECAM_DETECTION__SCORETHRESHOLD to detection.scoreThreshold; variables that
// name no known key, and the camera variables (applied by applyCameraEnv), map to "".
func envKey(name, value string) (string, any) {
	segs := strings.Split(strings.TrimPrefix(name, EnvPrefix), "__")
	if len(segs) > 0 && strings.EqualFold(segs[0], "cameras") {
		return "", nil
	}
	path, ok := resolve(rootSchema, segs)
	if !ok {
		return "", nil
	}
	return path, value
}

// resolve maps case-insensitive path segments onto the canonical dotted path of a leaf key.
func resolve(s *schema, segs []string) (string, bool) {
	var path []string
	for _, seg := range segs {
		if s.values != nil { // a mapping of names (labels) to structs: the segment is the name
			if seg == "" || strings.Contains(seg, ".") {
				return "", false
			}
			path = append(path, strings.ToLower(seg))
			s = s.values
			continue
		}
		c := s.child(seg, true)
		if c == nil {
			return "", false
		}
		path = append(path, c.name)
		s = c
	}
	if len(path) == 0 || !s.leaf() {
		return "", false
	}
	return strings.Join(path, "."), true
}

// applyCameraEnv applies EDGECAM_CAMERAS__<index or id>__<key path>=value to the cameras list.
func applyCameraEnv(raw map[string]any, environ []string, probs *problems) {
	camSchema := rootSchema.child("cameras", false)
	list, _ := raw["cameras"].([]any)
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		segs := strings.Split(strings.TrimPrefix(name, EnvPrefix), "__")
		if len(segs) < 3 || !strings.EqualFold(segs[0], "cameras") {
			continue
		}
		idx := cameraIndex(list, segs[1])
		if idx < 0 {
			probs.add(name, "no camera with index or id %q (cameras are numbered from 0 in file order)", segs[1])
			continue
		}
		path, ok := resolve(camSchema.elem, segs[2:])
		if !ok {
			probs.add(name, "%q is not a camera key", strings.Join(segs[2:], "__"))
			continue
		}
		cam, _ := list[idx].(map[string]any)
		setPath(cam, strings.Split(path, "."), value)
	}
}

func cameraIndex(list []any, ref string) int {
	if n, err := strconv.Atoi(ref); err == nil {
		if n >= 0 && n < len(list) {
			return n
		}
		return -1
	}
	for i, item := range list {
		m, _ := item.(map[string]any)
		if id, ok := m["id"].(string); ok && (strings.EqualFold(id, ref) || strings.EqualFold(envSafe(id), ref)) {
			return i
		}
	}
	return -1
}

// envSafe spells a camera id as a shell variable name can hold it: "bus-stop" -> "bus_stop".
func envSafe(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, id)
}

func setPath(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[path[len(path)-1]] = v
}

// flagKey returns the key a flag sets, or "" for flags that are not configuration keys.
func flagKey(f *pflag.Flag) string {
	if a := f.Annotations[FlagAnnotation]; len(a) > 0 {
		return a[0]
	}
	want := looseName(f.Name)
	for _, k := range leafKeys(rootSchema, "") {
		if looseName(k) == want {
			return k
		}
	}
	return ""
}

func looseName(s string) string {
	return strings.ToLower(strings.NewReplacer(".", "", "-", "", "_", "").Replace(s))
}

// leafKeys lists the dotted paths of every leaf key outside lists.
func leafKeys(s *schema, prefix string) []string { return schemaKeys(s, prefix, false) }

// schemaKeys lists the dotted paths of every leaf key; with inner, inside lists ([]) and
// mappings (<name>) too.
func schemaKeys(s *schema, prefix string, inner bool) []string {
	var out []string
	for _, c := range s.children {
		key := joinKey(prefix, c.name)
		switch {
		case c.leaf():
			out = append(out, key)
		case c.children != nil:
			out = append(out, schemaKeys(c, key, inner)...)
		case inner && c.elem != nil:
			out = append(out, schemaKeys(c.elem, key+"[]", inner)...)
		case inner && c.values != nil:
			out = append(out, schemaKeys(c.values, key+".<name>", inner)...)
		}
	}
	return out
}

// decodeHook converts strings into durations (Go or TimeSpan form) and comma-separated lists.
func decodeHook(from, to reflect.Type, data any) (any, error) {
	switch to {
	case durationType, stdDurationType:
		var d time.Duration
		switch v := data.(type) {
		case string:
			var err error
			if d, err = ParseDuration(v); err != nil {
				return nil, err
			}
		case time.Duration:
			d = v
		case Duration:
			d = time.Duration(v)
		case int, int64, uint64, float64:
			if reflect.ValueOf(v).IsZero() {
				return reflect.Zero(to).Interface(), nil
			}
			return nil, fmt.Errorf("duration %v has no unit: write e.g. \"%vs\" or \"00:00:%v\"", v, v, v)
		default:
			return data, nil
		}
		if to == durationType {
			return Duration(d), nil
		}
		return d, nil
	case stringsType:
		if s, ok := data.(string); ok {
			return splitList(s), nil
		}
	}
	return data, nil
}

// decodeProblems turns mapstructure's errors (a tree of joined and wrapped errors, with a
// *mapstructure.DecodeError naming the key at each level) into one FieldError per failed key.
func decodeProblems(err error) problems {
	var out problems
	var walk func(key string, e error)
	walk = func(key string, e error) {
		switch x := e.(type) {
		case *mapstructure.DecodeError:
			walk(x.Name(), x.Unwrap())
		case interface{ Unwrap() []error }:
			for _, inner := range x.Unwrap() {
				walk(key, inner)
			}
		default:
			var de *mapstructure.DecodeError
			if errors.As(e, &de) {
				walk(key, errors.Unwrap(e))
				return
			}
			out = append(out, &FieldError{Key: key, Msg: decodeMessage(e)})
		}
	}
	walk("", err)
	return out
}

// decodeMessage words a value that does not fit its key's type.
func decodeMessage(e error) string {
	var pe *mapstructure.ParseError
	if errors.As(e, &pe) {
		switch pe.Expected.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return fmt.Sprintf("%v is not a whole number", describe(pe.Value))
		case reflect.Float32, reflect.Float64:
			return fmt.Sprintf("%v is not a number", describe(pe.Value))
		}
	}
	var ue *mapstructure.UnconvertibleTypeError
	if errors.As(e, &ue) {
		return fmt.Sprintf("expected %s, got %s", kindName(ue.Expected.Type()), describe(ue.Value))
	}
	return e.Error()
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	return "a " + t.Kind().String()
}

// didYouMean returns the candidate closest to s (ignoring case) if it is plausibly a typo of it.
func didYouMean(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := suggest.Distance(strings.ToLower(s), strings.ToLower(c)); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD >= 0 && bestD <= max(2, len(s)/3) {
		return best
	}
	return ""
}
