# lambda-cgi's persistent Perl worker: preloads modules once, then forks a fresh
# child per request that runs the CGI script as `perl script` would. Started by
# handler/process/worker.ts; the design and its pitfalls are in the README
# ("Persistent Perl worker"). Core modules only.
#
#   fd 0  lifeline from Node: "K seq\n" kills a request; EOF means Node is gone.
#   fd 1  control records to Node, each one syswrite of at most PIPE_BUF bytes:
#         READY pid zygotes | B pid socket (the bare zygote) | Z zid pid socket script | ZFAIL script | L message
#         E seq len\n<stderr bytes> | X seq pid waitstatus
#   fd 2  the server's own diagnostics (compile warnings of precompiled scripts).
#
# Per request, one connection on the Unix socket: Node sends u32be N, N bytes of
# NUL-separated fields ("LCGI1", script, switches, cwd, bodyLength, argc, argv...,
# K=V...) and the body; the child answers 8 bytes pack("NN", seq, pid) when the
# script is about to run, then the script's stdout (its fd 1 is the socket).

# Compiles a precompiled script's text. Defined before any pragma, so the
# script inherits neither strict nor warnings from this file.
sub LCGI::compile_text { eval $_[0] }
# Dispositions inherited from Node (an ignored signal stays ignored across exec): each child starts with them.
BEGIN { %LCGI::BOOT_SIG = map { ($_ => 'IGNORE') } grep { ($SIG{$_} // '') eq 'IGNORE' } keys %SIG }

package LCGI;
use strict;
use warnings;
use Socket qw(AF_UNIX SOCK_STREAM SOMAXCONN SOL_SOCKET SO_PEERCRED pack_sockaddr_un);
use POSIX ();
use Fcntl ();
use Time::HiRes ();
use IO::Handle ();

our $IN_SCRIPT = 0;   # true in a request child while the script runs: hides our frame from caller()
our $STARTED = 0;     # set by the first run-time statement of a script in `do` mode
our $MAGIC = 'lambda-cgi-script';
our ($SOURCE, $SCRIPT);
my $F_SETPIPE_SZ = 1031;
my $PIPE_BUF = 4096;
my $SIGKILL = 9;
# Never preloaded: loading them changes how every later script compiles or where it thinks it lives.
my %NEVER_PRELOAD = map { $_ => 1 } qw(CGI::Carp FindBin);

my %opt = (preload => [], precompile => []);
while (@ARGV) {
  my $k = shift @ARGV;
  if ($k eq '--socket') { $opt{socket} = shift @ARGV }
  elsif ($k eq '--preload') { push @{ $opt{preload} }, shift @ARGV }
  elsif ($k eq '--precompile') { push @{ $opt{precompile} }, shift @ARGV }
  elsif ($k eq '--max-time') { $opt{max_time} = shift @ARGV }
  else { die "lambda-cgi-worker: unknown option $k\n" }
}
die "lambda-cgi-worker: --socket is required\n" unless defined $opt{socket};

sub record { my $r = shift; syswrite(STDOUT, $r) }

sub note { my $m = shift; $m =~ s/\n/ /g; record(substr("L $m", 0, 1000) . "\n") }

# --- preloading --------------------------------------------------------------

sub sig_snapshot { my %s; for (keys %SIG) { my $v = $SIG{$_}; $s{$_} = defined $v ? "$v" : '' } \%s }

sub preload {
  for my $m (@_) {
    if ($m !~ /^\w+(?:::\w+)*$/) { note("preload $m refused: not a module name"); next }
    if ($NEVER_PRELOAD{$m}) { note("preload $m refused: it changes how later scripts compile (never preloaded)"); next }
    my $before = sig_snapshot();
    my %sig = %SIG;
    (my $file = "$m.pm") =~ s{::}{/}g;
    if (!eval { require $file; 1 }) {
      my $e = $@; $e =~ s/\n.*//s;
      note("preload $m failed: $e");
      next;
    }
    my $after = sig_snapshot();
    my @changed = grep { ($before->{$_} // '') ne ($after->{$_} // '') } keys %$after;
    if (@changed) {
      %SIG = %sig;
      note("preload $m changed \%SIG (" . join(',', sort @changed) . "); restored");
    }
  }
}

# --- caller() that hides the one frame the worker adds -----------------------

sub install_caller {
  no warnings 'once';
  *CORE::GLOBAL::caller = sub (;$) {
    my $n = @_ ? (defined $_[0] ? $_[0] + 1 : 1) : 1;
    my @f;
    {
      package DB;
      @f = CORE::caller($n);
    }
    # The outermost frame is the `do` (or precompiled sub call) the worker made.
    return if $IN_SCRIPT && @f && !defined(scalar CORE::caller($n + 1));
    return wantarray ? (@_ ? @f : @f[0 .. 2]) : $f[0];
  };
}

# --- reading a script --------------------------------------------------------

# The script's text up to __END__/__DATA__, and the offset of what follows (for DATA).
sub read_script {
  my $file = shift;
  open(my $fh, '<:raw', $file) or return;
  local $/;
  my $text = <$fh>;
  close $fh;
  $text = '' unless defined $text;
  my $data;
  if ($text =~ /^__(?:END|DATA)__[ \t]*\r?(?:\n|\z)/mg) {
    $data = pos($text);
    $text = substr($text, 0, $-[0]);
  }
  return ($text, $data);
}

sub quoted_path { my $p = shift; $p =~ s/["\n]/_/g; $p }

# --- fd and process helpers ----------------------------------------------------

sub write_all {
  my ($fh, $buf) = @_;
  my $off = 0;
  while ($off < length $buf) {
    my $n = syswrite($fh, $buf, length($buf) - $off, $off);
    if (!defined $n) { next if $!{EINTR}; return 0 }
    $off += $n;
  }
  return 1;
}

sub read_exact {
  my ($fh, $len) = @_;
  my $buf = '';
  while (length $buf < $len) {
    my $n = sysread($fh, $buf, $len - length $buf, length $buf);
    if (!defined $n) { next if $!{EINTR}; return }
    return if $n == 0;
  }
  return $buf;
}

sub listen_on {
  my $path = shift;
  unlink $path;
  socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!\n";
  bind($s, pack_sockaddr_un($path)) or die "bind $path: $!\n";
  listen($s, SOMAXCONN) or die "listen: $!\n";
  return $s;
}

# --- the server loop (master and zygotes) ------------------------------------

my %children;     # pid => { seq, err (read end), eof, status, reaped_at }
my %by_seq;       # seq => pid
my @zygotes;      # { zid, pid, cmd (write end), socket, script }
my ($listen, $lifeline, $zid, $seq_base, $seq, $zsub, %zsig, $zdata, $orphaned);
my $NODE = getppid();
my ($wake_r, $wake_w);   # SIGCHLD writes here, so select wakes even if the signal came just before it

sub kill_group { my $pid = shift; kill($SIGKILL, -$pid) if $pid > 1 }

sub shutdown_server {
  kill_group($_) for keys %children;
  for my $z (@zygotes) { close $z->{cmd} if $z->{cmd}; kill($SIGKILL, $z->{pid}) if $z->{pid} }
  unlink $opt{socket} unless $zid;
  unlink "$opt{socket}.z$zid" if $zid;
  # The zygotes just killed cannot remove their own sockets.
  unlink "$opt{socket}.z$_->{zid}" for $zid ? () : @zygotes;
  # Node made the folder and removes it, unless it died first; the last server out takes it.
  rmdir($1) if $opt{socket} =~ m{^(.+)/[^/]+$};
  POSIX::_exit(0);
}

sub send_exit {
  my $pid = shift;
  my $c = delete $children{$pid};
  delete $by_seq{ $c->{seq} };
  close $c->{err} if $c->{err};
  record("X $c->{seq} $pid $c->{status}\n");
}

sub drain_stderr {
  my ($pid, $c) = @_;
  my $room = $PIPE_BUF - 40;
  my $n = sysread($c->{err}, my $buf, $room);
  if (!defined $n) { return if $!{EINTR} || $!{EAGAIN}; $n = 0 }
  if ($n == 0) { $c->{eof} = 1; return }
  record("E $c->{seq} $n\n$buf");
}

sub reap {
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $status = $?;
    my $c = $children{$pid};
    if (!$c) {
      my ($z) = grep { $_->{pid} && $_->{pid} == $pid } @zygotes;
      if ($z) { record("ZDEAD $z->{zid} $z->{script}\n"); $z->{pid} = 0; close $z->{cmd}; $z->{cmd} = undef }
      next;
    }
    # As after a plain spawn: whatever the script left in its process group goes with it.
    kill_group($pid);
    $c->{status} = $status;
    $c->{reaped_at} = Time::HiRes::time();
  }
}

sub handle_lifeline {
  my $n = sysread($lifeline, my $buf, 4096);
  return if !defined $n && $!{EINTR};
  if (!$n) {
    # Node gone: everything goes. A zygote whose master died lets its requests
    # finish (Node still waits for them and kills them on timeout), then exits.
    shutdown_server() if !$zid || !kill(0, $NODE);
    $orphaned = 1;
    close $listen;
    unlink "$opt{socket}.z$zid";
    return;
  }
  for my $line (split /\n/, $buf) {
    next unless $line =~ /^K (\d+)$/;
    my $s = $1;
    if (my $pid = $by_seq{$s}) { kill_group($pid); next }
    my $owner = $s >> 24;
    my ($z) = grep { $_->{zid} == $owner } @zygotes;
    syswrite($z->{cmd}, "K $s\n") if $z && $z->{cmd};
  }
}

sub serve {
  pipe($wake_r, $wake_w) or die "pipe: $!\n";
  $_->blocking(0) for $wake_r, $wake_w;
  local $SIG{CHLD} = sub { syswrite($wake_w, 'c') };
  local $SIG{PIPE} = 'IGNORE';
  for (;;) {
    reap();
    for my $pid (keys %children) {
      my $c = $children{$pid};
      next unless defined $c->{status};
      # Stderr held open by an escaped descendant must not hold the exit record back for long.
      send_exit($pid) if $c->{eof} || Time::HiRes::time() - $c->{reaped_at} > 0.2;
    }
    if (defined $opt{max_time}) {
      for my $pid (keys %children) {
        kill_group($pid) if !defined $children{$pid}{status} && time - $children{$pid}{started} > $opt{max_time};
      }
    }
    if ($orphaned) {
      shutdown_server() if !%children || !kill(0, $NODE);
    }
    my $rin = '';
    vec($rin, fileno($lifeline), 1) = 1 unless $orphaned;
    vec($rin, fileno($listen), 1) = 1 unless $orphaned;
    vec($rin, fileno($wake_r), 1) = 1;
    for my $c (values %children) { vec($rin, fileno($c->{err}), 1) = 1 if $c->{err} && !$c->{eof} }
    my $n = select(my $rout = $rin, undef, undef, %children ? 0.05 : undef);
    if ($n < 0) { next if $!{EINTR}; die "select: $!\n" }
    next if $n == 0;
    sysread($wake_r, my $junk, 512) if vec($rout, fileno($wake_r), 1);
    handle_lifeline() if !$orphaned && vec($rout, fileno($lifeline), 1);
    for my $pid (keys %children) {
      my $c = $children{$pid};
      drain_stderr($pid, $c) if $c->{err} && !$c->{eof} && vec($rout, fileno($c->{err}), 1);
    }
    if (!$orphaned && vec($rout, fileno($listen), 1)) {
      my $conn;
      next unless accept($conn, $listen);
      # Only Node may ask: a script of the same uid can reach the socket too, and what
      # ran here would be the server's child, spared by the survivor census.
      my ($peer) = unpack('i', getsockopt($conn, SOL_SOCKET, SO_PEERCRED) // pack('i', 0));
      if ($peer != $NODE) { close $conn; next }
      my $s = $seq_base + (++$seq & 0xffffff);
      pipe(my $er, my $ew) or do { close $conn; next };
      my $pid = fork;
      if (!defined $pid) { close $conn; close $er; close $ew; next }
      if ($pid == 0) {
        close $er;
        return child_setup($conn, $ew, $s);
      }
      close $conn;
      close $ew;
      $children{$pid} = { seq => $s, err => $er, started => time };
      $by_seq{$s} = $pid;
    }
  }
}

# --- a request child: the state a freshly exec'd perl would have --------------

sub child_setup {
  my ($conn, $ew, $s) = @_;
  close $listen if $listen;
  close $lifeline if fileno($lifeline) > 2;
  close $wake_r; close $wake_w;
  for my $c (values %children) { close $c->{err} if $c->{err} }
  for my $z (@zygotes) { close $z->{cmd} if $z->{cmd} }
  %children = (); %by_seq = (); @zygotes = ();
  POSIX::setpgid(0, 0);
  set_dumpable(1);
  # undef is SIG_DFL, and reads back undef, as in a fresh perl started by Node.
  $SIG{$_} = undef for keys %SIG;
  %SIG = (%SIG, %LCGI::BOOT_SIG);
  POSIX::sigprocmask(POSIX::SIG_SETMASK(), POSIX::SigSet->new);
  %SIG = (%SIG, %zsig) if %zsig;

  my $fail = sub { POSIX::_exit(111) };
  my $len = read_exact($conn, 4) // $fail->();
  my $frame = read_exact($conn, unpack('N', $len)) // $fail->();
  my @f = split /\0/, $frame, -1;
  $fail->() unless (shift(@f) // '') eq 'LCGI1' && @f >= 5;
  my ($script, $switches, $cwd, $body_len, $argc) = splice(@f, 0, 5);
  my @argv = splice(@f, 0, $argc);
  my %env = map { my $i = index($_, '='); (substr($_, 0, $i), substr($_, $i + 1)) } grep { index($_, '=') > 0 } @f;

  # The whole body is read before the script runs: a script that never reads
  # it must not leave Node writing into a closed socket (and losing the answer).
  my $body = $body_len > 0 ? (read_exact($conn, $body_len) // $fail->()) : '';
  my $in;
  # A pipe holds the body when it fits (64 KiB, or 1 MiB once grown), else an unlinked temp file.
  if (length($body) <= 1048576) {
    pipe($in, my $w) or $fail->();
    if (length($body) > 65536 && !fcntl($w, $F_SETPIPE_SZ, 1048576)) {
      close $in; close $w; $in = undef;
    } else {
      write_all($w, $body) or $fail->();
      close $w;
    }
  }
  if (!$in) {
    open($in, '+>', undef) or $fail->();
    write_all($in, $body) or $fail->();
    sysseek($in, 0, 0);
  }

  chdir($cwd) or $fail->();
  # Read before the preamble: a script that cannot be read is left to plain spawn to report.
  my $data;
  if (!$zsub) {
    ($SOURCE, $data) = read_script($script);
    $fail->() unless defined $SOURCE;
    my $path = quoted_path($script);
    $SOURCE = "BEGIN{LCGI::compiling()} \$LCGI::STARTED=1;\n#line 1 \"$path\"\n$SOURCE";
  }
  %ENV = ();
  %ENV = %env;
  POSIX::tzset();
  syswrite($conn, pack('NN', $s, $$)) == 8 or $fail->();
  POSIX::dup2(fileno($in), 0) // $fail->();
  POSIX::dup2(fileno($conn), 1) // $fail->();
  POSIX::dup2(fileno($ew), 2) // $fail->();
  close $in; close $conn; close $ew;
  select(STDOUT); $| = 0;

  $0 = $script;
  @ARGV = @argv;
  $^T = time;
  $^W = $switches =~ /w/ ? 1 : 0;
  FindBin::again() if defined &FindBin::again;
  $CGI::Carp::PROGNAME = $script if defined $CGI::Carp::PROGNAME;
  srand();
  $SCRIPT = $script;
  if ($zsub) {
    reopen_data($script, $zdata) if defined $zdata;
    return { sub => $zsub };
  }
  reopen_data($script, $data) if defined $data;
  unshift @INC, \&inc_hook;
  return { do => 1 };
}

sub reopen_data {
  my ($script, $offset) = @_;
  no strict 'refs';
  open(*{'main::DATA'}, '<', $script) and seek(*{'main::DATA'}, $offset, 0);
}

sub inc_hook {
  return unless $_[1] eq $MAGIC;
  open(my $fh, '<', \$SOURCE) or return;
  return $fh;
}

# Runs first while the script compiles: leave no trace of the loading in @INC/%INC.
sub compiling {
  @INC = grep { !ref($_) || $_ != \&inc_hook } @INC;
  delete $INC{$MAGIC};
  ($!, $?) = (0, 0);
}

# --- zygotes: one per precompiled script -------------------------------------

sub start_zygote {
  my ($n, $script) = @_;
  pipe(my $cr, my $cw) or return;
  my $pid = fork;
  return unless defined $pid;
  if ($pid == 0) {
    close $cw;
    close $_->{cmd} for grep { $_->{cmd} } @zygotes;
    @zygotes = ();
    # fd 0 stays taken, so that no pipe a child opens lands on it.
    open(STDIN, '<', '/dev/null');
    $lifeline = $cr;
    $zid = $n;
    $seq_base = $n << 24;
    my ($text, $data) = read_script($script);
    my $dir = $script =~ m{^(.*)/[^/]*$} ? ($1 || '/') : '.';
    if (!defined $text || !chdir($dir)) { record("ZFAIL $script\n"); POSIX::_exit(1) }
    local $0 = $script;
    my $path = quoted_path($script);
    my %before = %SIG;
    $IN_SCRIPT = 1;
    my $ok = LCGI::compile_text("package main; sub LCGI::precompiled {\n#line 1 \"$path\"\n$text\n;}\n1;");
    $IN_SCRIPT = 0;
    if (!$ok) {
      my $e = $@;
      print STDERR "lambda-cgi-worker: precompiling $script failed; it runs uncompiled: $e";
      record("ZFAIL $script\n");
      POSIX::_exit(1);
    }
    %zsig = %SIG;
    %SIG = %before;
    $zdata = $data;
    $zsub = \&LCGI::precompiled;
    $listen = listen_on("$opt{socket}.z$n");
    record("Z $n $$ $opt{socket}.z$n $script\n");
    return 'child';
  }
  close $cr;
  push @zygotes, { zid => $n, pid => $pid, cmd => $cw, script => $script };
  return;
}

# --- start-up ----------------------------------------------------------------

# A zygote forked before preloading, for scripts that use none of the
# preloaded modules: a bigger parent would only make their fork and exit slower.
my $BARE = 255;
sub start_bare {
  pipe(my $cr, my $cw) or return;
  my $pid = fork;
  return unless defined $pid;
  if ($pid == 0) {
    close $cw;
    open(STDIN, '<', '/dev/null');
    $lifeline = $cr;
    $zid = $BARE;
    $seq_base = $BARE << 24;
    install_caller();
    $listen = listen_on("$opt{socket}.z$BARE");
    record("B $$ $opt{socket}.z$BARE\n");
    return 'child';
  }
  close $cr;
  push @zygotes, { zid => $BARE, pid => $pid, cmd => $cw, script => '(bare)' };
  return;
}

# The server and its zygotes are non-dumpable, as Node is under the exec wrapper:
# a script of the same uid can then neither read their memory nor write code into
# it (/proc/N/mem, ptrace) to run in every later request. Each request child is
# made dumpable again, as an exec'd perl would be.
my %SYS_PRCTL = (x86_64 => 157, aarch64 => 167);
my $PR_SET_DUMPABLE = 4;
sub set_dumpable {
  my $nr = $SYS_PRCTL{(POSIX::uname())[4]} or return;
  syscall($nr, $PR_SET_DUMPABLE, $_[0]);
}

# Descriptors Node (or the Lambda runtime) left inheritable are no business of
# the server's, nor of the scripts it forks.
sub close_inherited {
  opendir(my $d, '/proc/self/fd') or return;
  my @fds = grep { /^\d+$/ && $_ > 2 && $_ != fileno($d) } readdir $d;
  closedir $d;
  POSIX::close($_) for @fds;
}

sub main {
  set_dumpable(0);
  close_inherited();
  $lifeline = \*STDIN;
  $seq_base = 0;
  $zid = 0;
  $seq = 0;
  return serve() if start_bare();
  preload(@{ $opt{preload} });
  install_caller();
  my $i = 0;
  for my $script (@{ $opt{precompile} }) {
    my $r = start_zygote(++$i, $script);   # zid 255 is the bare zygote's
    return serve() if $r;
  }
  $listen = listen_on($opt{socket});
  record("READY $$ " . scalar(@zygotes) . "\n");
  return serve();
}

# --- running the script, at file scope as perl would -------------------------

package main;
{
  my $job = LCGI::main();
  if ($job->{sub}) {
    $LCGI::IN_SCRIPT = 1;
    ($!, $?) = (0, 0);
    $job->{sub}->();
    exit 0;
  }
  $LCGI::IN_SCRIPT = 1;
  do $LCGI::MAGIC;
  my ($err, $errno, $status) = ($@, $! + 0, $?);
  exit 0 unless ref $err || (defined $err && $err ne '');
  # CGI::Carp names the outermost file in its messages; that must stay the script.
  $CGI::Carp::PROGNAME //= $LCGI::SCRIPT if defined &CGI::Carp::stamp;
  if ($LCGI::STARTED) {
    # A run-time die: die again at top level, so handlers see $^S false as under perl.
    ($!, $?) = ($errno, $status);
    die $err;
  }
  if (!ref $err && $err =~ /(?:BEGIN failed|BEGIN not safe after errors)--compilation aborted at .* line \d+\.\n\z/) {
    # A compile-time croak: the handlers already ran, exactly as perl runs them.
    local $SIG{__DIE__};
    ($!, $?) = ($errno, $status);
    die $err;
  }
  # A parse error: perl words it so, and calls the handler once.
  ($!, $?) = (0, 0);
  die "${err}Execution of $LCGI::SCRIPT aborted due to compilation errors.\n";
}
