/**
 * What Lambda's nodejs22.x runtime gives a program, for the site checker. Kept
 * small on purpose: only what is certain. Source: Amazon Linux 2023, which the
 * runtime is built on (AWS Lambda developer guide, "Lambda runtimes"), from its
 * minimal container image: glibc 2.34 (AL2023's glibc package), GCC 11's
 * libgcc_s and libstdc++ (GLIBCXX_3.4.29), zlib, bash and coreutils, with
 * /bin a link to /usr/bin; no Perl, Python or PHP (a layer brings those). Node
 * itself is /var/lang/bin/node. The environment is the runtime's documented one:
 * PATH and LD_LIBRARY_PATH ("Defined runtime environment variables").
 */

export const AL2023_GLIBC = [2, 34];
export const AL2023_GLIBCXX = [3, 4, 29];

/** Interpreters a #! line may name directly. */
export const AL2023_PROGRAMS = new Set([
  '/bin/sh', '/usr/bin/sh', '/bin/bash', '/usr/bin/bash', '/bin/env', '/usr/bin/env', '/var/lang/bin/node',
]);

/** Sonames of the base libraries (glibc, libgcc, libstdc++, zlib), for x86_64 and arm64. */
export const AL2023_LIBRARIES = new Set([
  'libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'librt.so.1', 'libresolv.so.2', 'libutil.so.1',
  'libanl.so.1', 'ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1', 'libgcc_s.so.1', 'libstdc++.so.6', 'libz.so.1',
]);

/** Lambda's PATH for Node.js runtimes: where a missing interpreter is looked up by name. */
export const LAMBDA_PATH = ['/var/lang/bin', '/usr/local/bin', '/usr/bin', '/bin', '/opt/bin'];

/** The part of LD_LIBRARY_PATH a layer can fill. */
export const LAMBDA_LIBRARY_DIRS = ['/opt/lib'];

/** Function code and all layers, unzipped (Lambda quotas). */
export const LAMBDA_LAYER_LIMIT_BYTES = 250 * 1024 * 1024;
