/*
 * gateway_local.c: a gateway's local presence, like tmux's server socket: a
 * Unix socket in the user's runtime directory serving the same endpoints as
 * the TCP port (the admin API above all), and an instance file beside it
 * saying who is there, so `llmdeck ls` and `llmdeck attach` find the live
 * instances with no address to type.
 *
 *   $XDG_RUNTIME_DIR/llmdeck/      (else /tmp/llmdeck-UID/), 0700, ours only
 *       INSTANCE.sock              the socket, 0600
 *       INSTANCE.json              {"instance","pid","host","listen","socket",
 *                                   "started_ms","version","config","database"}
 *
 * An instance is live while its process runs and its socket answers; the
 * files of one that died without cleaning up are removed by the next lister
 * (or by a new instance of the same id).
 *
 * With a store, the gateway also beats into its instance registry
 * (store_instance_beat: id, host, pid, admin URL, version, state) every
 * GW_REGISTRY_BEAT_MS, so `llmdeck ls --db` and `attach --db` find every
 * instance on the database, on any host; a clean stop removes its row, a
 * dead one's is gone after STORE_INSTANCE_GONE_MS.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/gateway.h"
#include "gateway/gateway_priv.h"
#include "store/store.h"

char *
gateway_runtime_dir(char **cause)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	char *dir;

	if (xdg != NULL && xdg[0] == '/')
		dir = xasprintf("%s/llmdeck", xdg);
	else
		dir = xasprintf("/tmp/llmdeck-%ld", (long)getuid());
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		*cause = xasprintf("cannot create %s: %s", dir, strerror(errno));
		free(dir);
		return NULL;
	}
	/*
	 * Like tmux (its socket directory): a directory someone else owns or could
	 * enter is not ours to trust: another local user could have made
	 * /tmp/llmdeck-UID first to read the instance files or stand in for the
	 * socket. Refused, naming the directory and the fix; never repaired.
	 */
	if (lstat(dir, &st) != 0) {
		*cause = xasprintf("cannot use %s: %s", dir, strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		*cause = xasprintf("%s is not a directory (a symlink or a file): remove it, or set "
		                   "XDG_RUNTIME_DIR to a private directory",
		    dir);
	} else if (st.st_uid != getuid()) {
		*cause =
		    xasprintf("%s is owned by uid %ld, not this user (uid %ld): remove it (as "
		              "its owner or root), or set XDG_RUNTIME_DIR to a private directory",
		        dir, (long)st.st_uid, (long)getuid());
	} else if ((st.st_mode & 077) != 0) {
		*cause =
		    xasprintf("%s has mode %04o, open to other users (0700 expected): chmod 700 "
		              "%s, or set XDG_RUNTIME_DIR to a private directory",
		        dir, (unsigned)(st.st_mode & 07777), dir);
	} else {
		return dir;
	}
	free(dir);
	return NULL;
}

/* Fill sun with path; -1 if it does not fit. */
static int
unix_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun->sun_path)
		return -1;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Does something answer on the socket at path? */
static int
socket_answers(const char *path)
{
	struct sockaddr_un sun;
	int fd, ok;

	if (unix_addr(&sun, path) != 0)
		return 0;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
	close(fd);
	return ok;
}

/* The instance file, written whole then renamed into place. */
static int
write_info(struct gateway *gw, char **cause)
{
	cJSON *o = cJSON_CreateObject();
	char *text, *tmp;
	FILE *f = NULL;
	int rc = 0, fd = -1;

	cJSON_AddStringToObject(o, "instance", gw->instance);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	cJSON_AddStringToObject(o, "host", gw->host);
	cJSON_AddStringToObject(o, "listen", gw->url);
	cJSON_AddStringToObject(o, "socket", gw->socket_path);
	cJSON_AddNumberToObject(o, "started_ms", (double)gw->started_ms);
	cJSON_AddStringToObject(o, "version", gw->version);
	if (gw->config_path != NULL)
		cJSON_AddStringToObject(o, "config", gw->config_path);
	else
		cJSON_AddNullToObject(o, "config");
	if (gw->store != NULL)
		cJSON_AddStringToObject(o, "database", store_path(gw->store));
	else
		cJSON_AddNullToObject(o, "database");
	text = cJSON_Print(o);
	cJSON_Delete(o);
	tmp = xasprintf("%s.tmp", gw->info_path);
	unlink(tmp);
	/* 0600 from the start: no moment when another user could read it. */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0 ||
	    rename(tmp, gw->info_path) != 0) {
		if (fd >= 0 && f == NULL)
			close(fd);
		*cause = xasprintf("gateway: cannot write %s: %s", gw->info_path, strerror(errno));
		unlink(tmp);
		rc = -1;
	}
	free(tmp);
	free(text);
	return rc;
}

/* A bound, listening Unix socket at path (0600); -1 with *cause. */
static int
unix_listen(const char *path, const char *instance, char **cause)
{
	struct sockaddr_un sun;
	int fd;

	if (unix_addr(&sun, path) != 0) {
		*cause = xasprintf("gateway: socket path too long (%zu bytes, %zu at most): %s",
		    strlen(path), sizeof sun.sun_path - 1, path);
		return -1;
	}
	if (socket_answers(path)) {
		*cause = xasprintf("gateway: instance %s is already running (%s answers); "
		                   "give this one another --instance",
		    instance, path);
		return -1;
	}
	unlink(path); /* a dead instance's */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 || chmod(path, 0600) != 0 ||
	    listen(fd, 128) != 0) {
		*cause = xasprintf("gateway: cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

int
gw_local_start(struct gateway *gw, char **cause)
{
	char *dir = gateway_runtime_dir(cause), *err;
	int fd;

	if (dir == NULL) {
		err = *cause;
		*cause = xasprintf("gateway: local socket: %s", err);
		free(err);
		return -1;
	}
	gw->socket_path = xasprintf("%s/%s.sock", dir, gw->instance);
	gw->info_path = xasprintf("%s/%s.json", dir, gw->instance);
	free(dir);
	if ((fd = unix_listen(gw->socket_path, gw->instance, cause)) < 0) {
		free(gw->socket_path);
		gw->socket_path = NULL;
		return -1;
	}
	gw->local_daemon = gw_daemon_start(gw, fd, 0, 1, 1);
	if (gw->local_daemon == NULL) {
		*cause = xasprintf("gateway: cannot serve on %s", gw->socket_path);
		close(fd);
		gw_local_stop(gw);
		return -1;
	}
	if (write_info(gw, cause) != 0) {
		MHD_stop_daemon(gw->local_daemon);
		gw->local_daemon = NULL;
		gw_local_stop(gw);
		return -1;
	}
	return 0;
}

void
gw_registry_beat(struct gateway *gw)
{
	struct store_instance i;
	int draining;

	if (gw->store == NULL)
		return;
	pthread_mutex_lock(&gw->mu);
	draining = gw->draining;
	pthread_mutex_unlock(&gw->mu);
	memset(&i, 0, sizeof i);
	strlcpy_(i.id, gw->instance, sizeof i.id);
	strlcpy_(i.host, gw->host, sizeof i.host);
	i.pid = (int64_t)getpid();
	strlcpy_(i.admin_url, gw->url, sizeof i.admin_url);
	strlcpy_(i.version, gw->version, sizeof i.version);
	i.started_ms = gw->started_ms;
	strlcpy_(i.state, draining ? "draining" : "ready", sizeof i.state);
	{
		struct gw_router *gr = gw_router_get(gw); /* a reload may swap it meanwhile */
		char hash[17];

		gw_config_hash(router_config(gr->router), hash);
		gw_router_put(gw, gr);
		strlcpy_(i.config_hash, hash, sizeof i.config_hash);
	}
	store_instance_beat(gw->store, &i);
}

void
gw_registry_remove(struct gateway *gw)
{
	if (gw->store != NULL)
		store_instance_remove(gw->store, gw->instance);
}

void
gw_local_stop(struct gateway *gw)
{
	if (gw->socket_path != NULL)
		unlink(gw->socket_path);
	if (gw->info_path != NULL)
		unlink(gw->info_path);
}

/* One instance file into *out; 0, or -1 if it is not one. */
static int
read_instance(const char *path, struct gateway_instance *out)
{
	char *text, *cause = NULL;
	cJSON *o, *v;
	size_t len;
	int rc = -1;

	if ((text = read_file(path, 65536, &len, &cause)) == NULL) {
		free(cause);
		return -1;
	}
	o = cJSON_Parse(text);
	free(text);
	memset(out, 0, sizeof *out);
	if (cJSON_IsString(v = cJSON_GetObjectItem(o, "instance")))
		strlcpy_(out->id, v->valuestring, sizeof out->id);
	if (cJSON_IsNumber(v = cJSON_GetObjectItem(o, "pid")))
		out->pid = (long)v->valuedouble;
	if (cJSON_IsString(v = cJSON_GetObjectItem(o, "host")))
		strlcpy_(out->host, v->valuestring, sizeof out->host);
	if (cJSON_IsString(v = cJSON_GetObjectItem(o, "listen")))
		strlcpy_(out->listen, v->valuestring, sizeof out->listen);
	if (cJSON_IsString(v = cJSON_GetObjectItem(o, "socket")))
		strlcpy_(out->socket, v->valuestring, sizeof out->socket);
	if (cJSON_IsString(v = cJSON_GetObjectItem(o, "version")))
		strlcpy_(out->version, v->valuestring, sizeof out->version);
	if (cJSON_IsNumber(v = cJSON_GetObjectItem(o, "started_ms")))
		out->started_ms = (int64_t)v->valuedouble;
	if (out->id[0] != '\0' && out->pid > 0 && out->socket[0] != '\0')
		rc = 0;
	cJSON_Delete(o);
	return rc;
}

static int
alive(long pid)
{
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static int
by_start(const void *a, const void *b)
{
	const struct gateway_instance *x = a, *y = b;

	return x->started_ms < y->started_ms ? -1 : x->started_ms > y->started_ms;
}

int
gateway_instances(struct gateway_instance **out, size_t *n, char **cause)
{
	char *dir = gateway_runtime_dir(cause), *path;
	struct gateway_instance gi;
	struct dirent *de;
	DIR *d;

	*out = NULL;
	*n = 0;
	if (dir == NULL)
		return -1;
	if ((d = opendir(dir)) == NULL) {
		*cause = xasprintf("cannot read %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (read_instance(path, &gi) == 0) {
			if (alive(gi.pid) && socket_answers(gi.socket)) {
				*out = xreallocarray(*out, *n + 1, sizeof **out);
				(*out)[(*n)++] = gi;
			} else {
				/* Its process is gone (or is another one now): clean up after it. */
				unlink(gi.socket);
				unlink(path);
			}
		}
		free(path);
	}
	closedir(d);
	free(dir);
	if (*n > 1)
		qsort(*out, *n, sizeof **out, by_start);
	return 0;
}
