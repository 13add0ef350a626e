// SPDX-License-Identifier: MIT
/*
 * Build-time generator of vufsd(1) from src/cli_opts.def, the table that
 * --help is printed from too: the page cannot describe an option the
 * program does not have, or miss one it has.
 *
 * Usage: gen-man VERSION > vufsd.1
 */
#include <stdio.h>
#include <string.h>

struct opt {
	const char *lng;
	char shrt;
	const char *meta;
	const char *help;
	const char *rust;
};

static const struct opt opts[] = {
#define VUFS_OPT(id, lng, shrt, arg, meta, help, rust) { lng, shrt, meta, help, rust },
#include "cli_opts.def"
};

struct compat {
	const char *word;
	int value;
	const char *help;
};

static const struct compat compat[] = {
#define VUFS_COMPAT(id, word, value, help) { word, value, help },
#include "cli_opts.def"
};

/* roff-escape: backslashes, hyphens (so options are not hyphenated away), leading dots. */
static void put(const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", stdout);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", stdout);
		else if (*s == '-')
			fputs("\\-", stdout);
		else
			putchar(*s);
	}
}

static void opt_name(const struct opt *o)
{
	if (o->shrt) {
		printf("\\fB\\-%c\\fR", o->shrt);
		if (o->lng)
			fputs(", ", stdout);
	}
	if (o->lng) {
		fputs("\\fB\\-\\-", stdout);
		put(o->lng);
		fputs("\\fR", stdout);
	}
	if (o->meta) {
		fputs(o->lng ? "=\\fI" : " \\fI", stdout);
		put(o->meta);
		fputs("\\fR", stdout);
	}
}

int main(int argc, char **argv)
{
	const char *version = argc > 1 ? argv[1] : "";

	printf(".TH VUFSD 1 \"\" \"vufsd %s\" \"User Commands\"\n", version);
	puts(".SH NAME\nvufsd \\- vhost\\-user virtio\\-fs device daemon");
	puts(".SH SYNOPSIS\n.B vufsd\n\\fB\\-\\-shared\\-dir\\fR=\\fIDIR\\fR "
	     "(\\fB\\-\\-socket\\-path\\fR=\\fIPATH\\fR | \\fB\\-\\-fd\\fR=\\fIFD\\fR) "
	     "[\\fIOPTIONS\\fR]");
	puts(".SH DESCRIPTION\n"
	     "vufsd serves the directory \\fIDIR\\fR of the host to a virtual machine as a "
	     "virtio\\-fs device. The VMM (QEMU's vhost\\-user\\-fs\\-pci, or libvirt's "
	     "<filesystem> with <driver type='virtiofs'/>) connects to its vhost\\-user socket; "
	     "the guest mounts the share with \\fBmount \\-t virtiofs\\fR \\fITAG\\fR "
	     "\\fIDIR\\fR.\n.PP\n"
	     "vufsd accepts the options of the Rust virtiofsd with the same spelling and "
	     "meaning, including the deprecated \\fB\\-o\\fR forms, so it can replace it "
	     "wherever that is started (see COMPATIBILITY WITH THE RUST VIRTIOFSD). An option "
	     "vufsd cannot honour is refused at start with a one\\-line error that names it; "
	     "none is silently ignored.");
	puts(".SH OPTIONS");
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		puts(".TP");
		opt_name(&opts[i]);
		putchar('\n');
		put(opts[i].help);
		putchar('\n');
	}
	puts(".SH COMPATIBILITY OPTIONS\n"
	     "\\fB\\-o\\fR takes a comma\\-separated list of the words below (the syntax of the "
	     "legacy C virtiofsd, which libvirt 9 uses: \\fB\\-\\-fd=\\fR\\fIN\\fR "
	     "\\fB\\-o source=\\fR\\fIDIR\\fR\\fB,cache=always,sandbox=chroot,xattr,flock,"
	     "posix_lock\\fR). A comma inside a value is written twice. An unknown word is "
	     "refused.");
	for (size_t i = 0; i < sizeof(compat) / sizeof(compat[0]); i++) {
		puts(".TP");
		fputs("\\fB", stdout);
		put(compat[i].word);
		fputs(compat[i].value ? "\\fR=\\fIVALUE\\fR\n" : "\\fR\n", stdout);
		put(compat[i].help);
		putchar('\n');
	}
	puts(".SH COMPATIBILITY WITH THE RUST VIRTIOFSD\n"
	     "Every option of the Rust virtiofsd 1.13, and how vufsd treats it: \\fIsame\\fR "
	     "(spelling and meaning), \\fIextended\\fR, \\fIrefused\\fR (with the reason), "
	     "or \\fIvufsd only\\fR.");
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		puts(".TP");
		opt_name(&opts[i]);
		putchar('\n');
		put(opts[i].rust);
		putchar('\n');
	}
	puts(".SH FILES\n"
	     ".TP\n\\fIPATH\\fR.pid\n"
	     "With \\fB\\-\\-socket\\-path\\fR=\\fIPATH\\fR: the daemon's pid, locked (flock) "
	     "while it runs; a second daemon started on the same socket fails.\n"
	     ".TP\n\\fI/usr/share/qemu/vhost\\-user/50\\-vufsd.json\\fR\n"
	     "The vhost\\-user backend description (type fs) by which libvirt finds vufsd "
	     "when a domain's <filesystem> names no <binary path=...>.");
	puts(".SH EXAMPLES\n"
	     "A libvirt domain that uses vufsd (memory must be shared with the daemon):\n"
	     ".PP\n.nf\n"
	     "<memoryBacking>\n"
	     "  <source type='memfd'/>\n"
	     "  <access mode='shared'/>\n"
	     "</memoryBacking>\n"
	     "\\&...\n"
	     "<filesystem type='mount' accessmode='passthrough'>\n"
	     "  <driver type='virtiofs' queue='1024'/>\n"
	     "  <binary path='/usr/libexec/vufsd' xattr='on'>\n"
	     "    <cache mode='always'/>\n"
	     "    <sandbox mode='chroot'/>\n"
	     "    <lock posix='on' flock='on'/>\n"
	     "    <thread_pool size='4'/>\n"
	     "  </binary>\n"
	     "  <source dir='/srv/share'/>\n"
	     "  <target dir='share'/>\n"
	     "</filesystem>\n"
	     ".fi\n.PP\n"
	     "By hand, with QEMU:\n.PP\n.nf\n"
	     "vufsd \\-\\-socket\\-path=/run/vufsd.sock \\-\\-shared\\-dir=/srv/share &\n"
	     "qemu\\-system\\-x86_64 ... \\-object memory\\-backend\\-memfd,id=mem,size=1G,share=on \\e\n"
	     "  \\-numa node,memdev=mem \\-chardev socket,id=fs0,path=/run/vufsd.sock \\e\n"
	     "  \\-device vhost\\-user\\-fs\\-pci,chardev=fs0,tag=share\n"
	     ".fi");
	puts(".SH SEE ALSO\n\\fBqemu\\-system\\-x86_64\\fR(1), \\fBvirsh\\fR(1), "
	     "\\fBmount\\fR(8)");
	return 0;
}
