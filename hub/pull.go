package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"
)

// Pull makes the store hold ref's GGUF at a revision ("" is main): it lists
// the repository, picks the file (or parts) of the quantization, downloads
// what is missing, merges a split model into one file and writes the
// manifest. A model already pulled with the same checksums is left as it is.
// With Offline set it only looks in the store.
func (c *Client) Pull(ctx context.Context, s *Store, ref Ref, revision string) (*Manifest, error) {
	if revision == "" {
		revision = "main"
	}
	if c.Offline {
		m, err := s.Find(ref)
		if err != nil {
			if errors.Is(err, ErrNotPulled) {
				return nil, fmt.Errorf("HF_HUB_OFFLINE is set and %s is %w", ref, ErrNotPulled)
			}
			return nil, err
		}
		if err := s.Check(m); err != nil {
			return nil, err
		}
		return m, nil
	}
	entries, err := c.List(ctx, ref.Repo, revision)
	if err != nil {
		return nil, err
	}
	models, err := Models(entries)
	if err != nil {
		return nil, err
	}
	sel, err := Select(ref.Repo, models, ref.Quant)
	if err != nil {
		return nil, err
	}
	quant := sel.Quant
	if quant == "" {
		quant = ref.Quant
	}
	if quant == "" {
		quant = strings.TrimSuffix(path.Base(sel.Name), path.Ext(sel.Name))
	}
	m := &Manifest{Repo: ref.Repo, Revision: revision, Quant: strings.ToUpper(quant), Model: sel.Name}
	for _, e := range sel.Files {
		m.Files = append(m.Files, ManifestFile{Path: e.Path, Size: e.FileSize(), SHA256: e.SHA256()})
	}
	if old, err := s.Find(Ref{Repo: ref.Repo, Quant: m.Quant}); err == nil {
		if sameFiles(old, m) && s.Check(old) == nil {
			c.logf("%s is up to date", old.Name())
			return old, nil
		}
		// The repository changed: the old files must not pass for the new.
		if err := s.Remove(old); err != nil {
			return nil, err
		}
	}

	modelPath, err := s.FilePath(ref.Repo, sel.Name)
	if err != nil {
		return nil, err
	}
	var parts []string
	for _, e := range sel.Files {
		dest, err := s.FilePath(ref.Repo, e.Path)
		if err != nil {
			return nil, err
		}
		parts = append(parts, dest)
		if sel.Split() {
			if _, err := os.Stat(modelPath); err == nil {
				// Merged already; its parts are gone.
				continue
			}
		}
		err = c.Download(ctx, File{Repo: ref.Repo, Revision: revision, Path: e.Path, Size: e.FileSize(), SHA256: e.SHA256()}, dest)
		if err != nil {
			return nil, err
		}
	}
	if sel.Split() {
		if _, err := os.Stat(modelPath); err != nil {
			c.logf("merging the %d parts of %s into one file", len(parts), path.Base(sel.Name))
			if err := MergeSplit(parts, modelPath); err != nil {
				return nil, fmt.Errorf("merging %s: %w", sel.Name, err)
			}
		}
		for _, p := range parts {
			os.Remove(p)
		}
	}
	st, err := os.Stat(modelPath)
	if err != nil {
		return nil, err
	}
	m.Size = st.Size()
	m.Pulled = time.Now().UTC().Truncate(time.Second)
	if err := s.Save(m); err != nil {
		return nil, err
	}
	return m, nil
}

// Check reports whether a manifest's model file is there with its size.
func (s *Store) Check(m *Manifest) error {
	p, err := s.ModelPath(m)
	if err != nil {
		return err
	}
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("%s: its file is missing from the store (%w): pull it again", m.Name(), err)
	}
	if m.Size > 0 && st.Size() != m.Size {
		return fmt.Errorf("%s: %s has %d bytes, the manifest says %d: pull it again", m.Name(), p, st.Size(), m.Size)
	}
	return nil
}

func sameFiles(a, b *Manifest) bool {
	if a.Model != b.Model || len(a.Files) != len(b.Files) {
		return false
	}
	for i := range a.Files {
		if a.Files[i].Path != b.Files[i].Path || a.Files[i].Size != b.Files[i].Size || !strings.EqualFold(a.Files[i].SHA256, b.Files[i].SHA256) {
			return false
		}
	}
	return true
}
