/*
 * tlskit.h: a throwaway TLS identity for the tests and benches: an EC key and
 * a self-signed certificate for 127.0.0.1 and localhost (subjectAltName), made
 * with libcrypto, valid for a day. The certificate doubles as the CA bundle a
 * provider's "ca_file" names.
 */
#ifndef LLMDECK_TLSKIT_H
#define LLMDECK_TLSKIT_H

struct tlskit {
	char *cert_pem;      /* the certificate, PEM */
	char *key_pem;       /* its private key, PEM (PKCS#8) */
	char cert_file[256]; /* cert_pem written to a file in the directory given */
	char key_file[256];  /* key_pem, likewise (mode 0600) */
};

/* Make one in dir (which must exist); aborts the test binary on failure. */
void tlskit_make(struct tlskit *, const char *dir);
void tlskit_free(struct tlskit *);

#endif
