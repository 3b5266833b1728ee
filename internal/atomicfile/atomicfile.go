// Package atomicfile replaces files so that readers and crashes never
// observe a partially written file.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces the file at path with data and sets its permission bits to
// exactly perm, regardless of the umask.
//
// The data goes to a temporary file in the directory of path, which is
// fsynced and then renamed over path, and the directory is fsynced so that the
// rename survives a crash. Until the rename, path keeps its old content (or
// stays absent). On any error before the rename the temporary file is
// removed. If only the final directory sync fails, path already holds the new
// content and the returned error states this.
//
// A symbolic link at path is replaced by a regular file, not followed.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmpName := tmp.Name()
	renamed := false
	defer func() {
		if renamed {
			return
		}
		// The close error is irrelevant here because the file is removed.
		_ = tmp.Close()
		if removeErr := os.Remove(tmpName); removeErr != nil && !os.IsNotExist(removeErr) {
			err = fmt.Errorf("%w (removing temporary file %s also failed: %v)", err, tmpName, removeErr)
		}
	}()

	// Set the mode before any data is written, so a private key is never
	// readable by others, not even for a moment.
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("set mode %#o on %s: %w", perm, tmpName, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmpName, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmpName, path, err)
	}
	renamed = true

	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("%s was written, but its directory could not be synced, so the change may not survive a crash: %w", path, err)
	}
	return nil
}

// SyncDir fsyncs the directory dir, which makes earlier creates, renames and
// removals of its entries durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	syncErr := d.Sync()
	closeErr := d.Close()
	if syncErr != nil {
		return fmt.Errorf("sync directory %s: %w", dir, syncErr)
	}
	if closeErr != nil {
		return fmt.Errorf("close directory %s: %w", dir, closeErr)
	}
	return nil
}
