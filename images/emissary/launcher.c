/*
 * The in-container `argoexec`: CPython, linked statically, running the stdlib-only emissary
 * (argoexec.emissary.frozen) from a zip of precompiled modules appended to this executable.
 *
 * Nothing is unpacked and nothing is written: the interpreter imports straight from the zip at
 * the end of its own file (/proc/self/exe), so the one file `argoexec init` copies to
 * /var/run/argo/argoexec runs in any image (no libc, no shell, no Python, no /tmp, a read-only
 * root, any uid). The interpreter is isolated: no PYTHON* variable of the user's image, no
 * site, no user site-packages, no bytecode written; UTF-8 mode so that arguments and paths
 * pass through byte for byte whatever the image's locale.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EMISSARY_FAILED 64 /* the emissary's own failure code (argo-contract.md section 2) */

static const wchar_t ENTRY[] =
    L"import sys\nfrom argoexec.emissary.frozen import main\nsys.exit(main())\n";

static int check(PyConfig *config, PyStatus status) {
    if (!PyStatus_Exception(status)) return 0;
    PyConfig_Clear(config);
    Py_ExitStatusException(status); /* prints the reason, exits 1 */
    return 1;
}

int main(int argc, char **argv) {
    PyPreConfig pre;
    PyPreConfig_InitIsolatedConfig(&pre);
    pre.utf8_mode = 1;
    PyStatus status = Py_PreInitialize(&pre);
    if (PyStatus_Exception(status)) Py_ExitStatusException(status);

    /* The zip is this very file: found through /proc, or argv[0] where /proc is missing. */
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        if (argc < 1 || strlen(argv[0]) >= sizeof self) {
            fputs("argoexec: cannot find its own executable (no /proc, no argv[0])\n", stderr);
            return EMISSARY_FAILED;
        }
        strcpy(self, argv[0]);
        len = (ssize_t)strlen(self);
    }
    self[len] = '\0';
    wchar_t *path = Py_DecodeLocale(self, NULL);
    if (path == NULL) {
        fputs("argoexec: cannot decode the path of its own executable\n", stderr);
        return EMISSARY_FAILED;
    }

    PyConfig config;
    PyConfig_InitPythonConfig(&config); /* signal handlers and stdio as `python` sets them */
    config.isolated = 1;
    config.use_environment = 0;
    config.user_site_directory = 0;
    config.site_import = 0;
    config.write_bytecode = 0;
    config.parse_argv = 0; /* every argument is the emissary's */
    config.pathconfig_warnings = 0;
    check(&config, PyConfig_SetBytesArgv(&config, argc, argv));
    check(&config, PyConfig_SetString(&config, &config.executable, path));
    /* A home that holds nothing: the path search finds no stdlib and warns about none. */
    check(&config, PyConfig_SetString(&config, &config.home, path));
    config.module_search_paths_set = 1;
    check(&config, PyWideStringList_Append(&config.module_search_paths, path));
    check(&config, PyConfig_SetString(&config, &config.run_command, ENTRY));
    PyMem_RawFree(path);
    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) Py_ExitStatusException(status);
    return Py_RunMain();
}
