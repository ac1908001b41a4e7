/* tlskit.c: a throwaway self-signed certificate for loopback TLS (see tlskit.h). */
#include "tlskit.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static char *
bio_text(BIO *b)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *out = xmalloc((size_t)n + 1);

	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	return out;
}

static void
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		fatal("tlskit: extension %d", nid);
	X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
}

void
tlskit_make(struct tlskit *t, const char *dir)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	BIO *b;
	FILE *f;

	memset(t, 0, sizeof *t);
	if (key == NULL || x == NULL)
		fatal("tlskit: cannot make a key");
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1,
	    -1, 0);
	X509_set_issuer_name(x, name);
	add_ext(x, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(x, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
	if (X509_sign(x, key, EVP_sha256()) == 0)
		fatal("tlskit: cannot sign");

	b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, x);
	t->cert_pem = bio_text(b);
	BIO_free(b);
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
	t->key_pem = bio_text(b);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(key);

	snprintf(t->cert_file, sizeof t->cert_file, "%s/ca.pem", dir);
	snprintf(t->key_file, sizeof t->key_file, "%s/key.pem", dir);
	if ((f = fopen(t->cert_file, "w")) == NULL || fputs(t->cert_pem, f) == EOF ||
	    fclose(f) != 0)
		fatal("tlskit: cannot write %s", t->cert_file);
	umask(077);
	if ((f = fopen(t->key_file, "w")) == NULL || fputs(t->key_pem, f) == EOF || fclose(f) != 0)
		fatal("tlskit: cannot write %s", t->key_file);
}

void
tlskit_free(struct tlskit *t)
{
	free(t->cert_pem);
	free(t->key_pem);
	memset(t, 0, sizeof *t);
}
