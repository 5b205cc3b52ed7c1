// Prints the Perl modules a CGI script loads, to build CGI_PERL_PRELOAD:
//   npm run perl-modules -- layers/cgi-bin/search.pl 'layers/cgi-bin/job.pl?id=3'
// Each script runs once as a GET (the text after "?" is its QUERY_STRING), its
// output thrown away; what it had in %INC at exit is reported, modules it
// loads lazily on that request included.
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const NEVER_PRELOADED = new Set(['CGI::Carp', 'FindBin']);

const PROBE = String.raw`
my $script = shift;
my %boot = map { $_ => 1 } @INC;
open(my $out, '>&=', 3) or die "fd 3: $!";
END {
  for my $file (sort keys %INC) {
    next unless $file =~ /\.pm$/ && defined $INC{$file} && !ref $INC{$file};
    (my $m = $file) =~ s/\.pm$//; $m =~ s{/}{::}g;
    my $dir = substr($INC{$file}, 0, length($INC{$file}) - length($file) - 1);
    print $out "$m\t", ($boot{$dir} ? 'inc' : 'local'), "\n";
  }
}
$0 = $script;
do $script;
print STDERR $@ if $@;
`;

function modulesOf(arg, perl) {
  const [file, query = ''] = arg.split('?');
  const script = resolve(file);
  const run = spawnSync(perl, ['-e', PROBE, script], {
    cwd: dirname(script),
    env: {
      PATH: process.env.PATH,
      PERL5LIB: process.env.PERL5LIB ?? '',
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'GET',
      QUERY_STRING: query,
      SCRIPT_NAME: `/cgi-bin/${file.split('/').pop()}`,
      SCRIPT_FILENAME: script,
      SERVER_NAME: 'localhost',
      SERVER_PORT: '80',
      SERVER_PROTOCOL: 'HTTP/1.1',
    },
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    timeout: 30_000,
  });
  const lines = (run.output[3] ?? '').split('\n').filter(Boolean).map((l) => l.split('\t'));
  return { arg, lines, stderr: run.stderr?.trim() ?? '' };
}

export function main(argv) {
  const perl = process.env.PERL ?? 'perl';
  const scripts = argv.filter((a) => !a.startsWith('--'));
  if (scripts.length === 0) {
    console.error('usage: npm run perl-modules -- <script>[?query] ...');
    return 2;
  }
  const preload = new Set();
  for (const s of scripts) {
    const { arg, lines, stderr } = modulesOf(s, perl);
    console.log(`${arg}:`);
    for (const [m, where] of lines) {
      const pragma = /^[a-z]/.test(m);
      const note = NEVER_PRELOADED.has(m) ? ' (never preloaded)' : where === 'local' ? ' (found through use lib: not on the worker\'s @INC)' : pragma ? ' (pragma)' : '';
      console.log(`  ${m}${note}`);
      if (!note) preload.add(m);
    }
    if (stderr) console.log(`  [the script said on stderr: ${stderr.split('\n')[0]}]`);
  }
  console.log(`\nCGI_PERL_PRELOAD=${[...preload].sort().join(',')}`);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exit(main(process.argv.slice(2)));
