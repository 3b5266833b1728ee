// Package storage keeps ACME accounts and certificates on the local disk, in
// a layout that resembles those of certbot and lego.
//
// Layout below the root directory chosen by the caller:
//
//	<root>/
//	  accounts/<ca-dir>/<email or "default">/
//	    account.json     account URL, contact e-mail, status, creation time,
//	                     terms-of-service agreement, directory URL (0644)
//	    account.key      account private key, PEM "PRIVATE KEY" (PKCS #8) (0600)
//	  certificates/<name>/
//	    cert.pem         leaf certificate (0644)
//	    chain.pem        intermediate certificates, issuer first (0644)
//	    fullchain.pem    leaf followed by the intermediates (0644)
//	    privkey.pem      certificate private key, PEM "PRIVATE KEY" (0600)
//	    metadata.json    names, validity, serial, issuer, URLs, key type,
//	                     profile, ARI data, issue time (0644)
//	  locks/<name>.lock  flock(2) lock files with the holder's PID (0644)
//
// All directories are created with mode 0700.
//
// <ca-dir> is derived from the ACME directory URL: the host, then "_" and the
// port if the URL has one, then the path with "/" replaced by "-". For example
// https://acme-v02.api.letsencrypt.org/directory becomes
// "acme-v02.api.letsencrypt.org-directory" and https://127.0.0.1:14000/dir
// becomes "127.0.0.1_14000-dir".
//
// <name> is the certificate name. [DefaultName] derives it from the first
// requested domain, with a leading "*" replaced by "_", so *.example.test is
// stored as "_.example.test". [ValidateName] lists the rules for names given
// by the user.
//
// # Replacing a certificate
//
// [Store.SaveCertificate] writes all files of a certificate into a fresh
// sibling directory "certificates/.<name>.new-<random>", fsyncs them and then
// swaps the directory in with two renames. A failed save therefore never
// replaces a good certificate, and the files inside "certificates/<name>"
// always belong together. Programs that read the files by path one after the
// other, such as web servers, can still read cert.pem from the old version and
// privkey.pem from the new one if the swap happens between the two reads.
// [Store.LoadCertificate] avoids this by opening the directory once and
// reading every file through that handle.
//
// # Locking
//
// [Store.Lock] serializes work on one certificate or account between
// processes. Writers such as SaveCertificate, SaveAccount and UpdateMetadata
// do not lock on their own, so callers hold the lock around them.
package storage
