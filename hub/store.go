package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Store is the local model store:
//
//	ROOT/models/OWNER/REPO/FILE...               the GGUF files as the Hub names them
//	ROOT/models/OWNER/REPO/QUANT.manifest.json   one manifest per pulled model
type Store struct {
	Root string
}

// DefaultRoot is $CONVEYOR_MODELS, else $XDG_CACHE_HOME/conveyor, else
// ~/.cache/conveyor.
func DefaultRoot() (string, error) {
	if d := os.Getenv("CONVEYOR_MODELS"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "conveyor"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no model store: set CONVEYOR_MODELS (%w)", err)
	}
	return filepath.Join(home, ".cache", "conveyor"), nil
}

// OpenStore is the store at DefaultRoot (created when first written to).
func OpenStore() (*Store, error) {
	root, err := DefaultRoot()
	if err != nil {
		return nil, err
	}
	return &Store{Root: root}, nil
}

// Manifest records one pulled model.
type Manifest struct {
	Repo     string         `json:"repo"`
	Revision string         `json:"revision"`
	Quant    string         `json:"quant"`
	Model    string         `json:"model"` // the file to load, relative to the repo's folder
	Files    []ManifestFile `json:"files"` // as downloaded (the parts of a split model, merged into Model)
	Size     int64          `json:"size"`  // of Model
	Pulled   time.Time      `json:"pulled"`
}

// ManifestFile is one downloaded file.
type ManifestFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// Name is how commands name the model: owner/repo:QUANT.
func (m *Manifest) Name() string { return m.Repo + ":" + m.Quant }

// RepoDir is the folder of a repository's files.
func (s *Store) RepoDir(repo string) string {
	return filepath.Join(s.Root, "models", filepath.FromSlash(repo))
}

// FilePath is where a repository file lives in the store. It refuses paths
// that would leave the repository's folder.
func (s *Store) FilePath(repo, file string) (string, error) {
	clean := path.Clean(file)
	if file == "" || path.IsAbs(file) || clean != file || clean == "." || strings.HasPrefix(clean, "../") || clean == ".." ||
		strings.Contains(file, "\\") {
		return "", fmt.Errorf("refusing file name %q from the Hub", file)
	}
	return filepath.Join(s.RepoDir(repo), filepath.FromSlash(clean)), nil
}

// ModelPath is the file to load for a manifest.
func (s *Store) ModelPath(m *Manifest) (string, error) { return s.FilePath(m.Repo, m.Model) }

func manifestName(quant string) string {
	if quant == "" {
		quant = "default"
	}
	return strings.ToUpper(quant) + ".manifest.json"
}

// Save writes m's manifest atomically.
func (s *Store) Save(m *Manifest) error {
	dir := s.RepoDir(m.Repo)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	final := filepath.Join(dir, manifestName(m.Quant))
	tmp, err := os.CreateTemp(dir, ".manifest*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), final)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	syncDir(dir)
	return nil
}

// Manifests of a repository ("" for all), sorted by name.
func (s *Store) Manifests(repo string) ([]*Manifest, error) {
	pattern := filepath.Join(s.Root, "models", "*", "*", "*.manifest.json")
	if repo != "" {
		pattern = filepath.Join(s.RepoDir(repo), "*.manifest.json")
	}
	names, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	var out []*Manifest
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		m := &Manifest{}
		if err := json.Unmarshal(b, m); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// ErrNotPulled says a model is not in the store.
var ErrNotPulled = errors.New("not in the model store")

// Find is the manifest of a pulled model: with a quant, that one (any case);
// without, the only one of the repository, or its DefaultQuant.
func (s *Store) Find(ref Ref) (*Manifest, error) {
	ms, err := s.Manifests(ref.Repo)
	if err != nil {
		return nil, err
	}
	var quants []string
	for _, m := range ms {
		quants = append(quants, m.Quant)
		if ref.Quant != "" && strings.EqualFold(m.Quant, ref.Quant) {
			return m, nil
		}
	}
	if ref.Quant == "" {
		if len(ms) == 1 {
			return ms[0], nil
		}
		for _, m := range ms {
			if strings.EqualFold(m.Quant, DefaultQuant) {
				return m, nil
			}
		}
		if len(ms) > 1 {
			return nil, fmt.Errorf("%s: several quantizations are pulled (%s): name one as %s:QUANT", ref.Repo, strings.Join(quants, ", "), ref.Repo)
		}
	}
	return nil, fmt.Errorf("%s: %w (run `conveyor pull %s`)", ref, ErrNotPulled, ref)
}

// Remove deletes a pulled model: its manifest and the files no other
// manifest uses, with partial downloads and empty folders left behind.
func (s *Store) Remove(m *Manifest) error {
	others, err := s.Manifests(m.Repo)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, o := range others {
		if strings.EqualFold(o.Quant, m.Quant) {
			continue
		}
		used[o.Model] = true
		for _, f := range o.Files {
			used[f.Path] = true
		}
	}
	files := []string{m.Model}
	for _, f := range m.Files {
		files = append(files, f.Path)
	}
	if err := os.Remove(filepath.Join(s.RepoDir(m.Repo), manifestName(m.Quant))); err != nil {
		return err
	}
	for _, f := range files {
		if used[f] {
			continue
		}
		p, err := s.FilePath(m.Repo, f)
		if err != nil {
			continue
		}
		for _, suffix := range []string{"", ".part", ".etag", ".lock"} {
			if err := os.Remove(p + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		// Empty folders up to the store's models folder go too.
		top := filepath.Join(s.Root, "models")
		for d := filepath.Dir(p); d != top && strings.HasPrefix(d, top); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
	}
	return nil
}
