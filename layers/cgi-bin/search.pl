#!/usr/bin/perl
# search.pl - search the Acme Jobs listings.
#
# GET /cgi-bin/search.pl?q=perl&loc=remote&category=Engineering&page=2
# The listings are in the site's SQLite database (see lib/AcmeJobs.pm);
# the search is one query with placeholders, a page at a time.
# Links are built from SCRIPT_NAME, so they work under any prefix
# (e.g. an API Gateway stage: /dev/cgi-bin/search.pl).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use AcmeJobs qw(:all);

my $PER_PAGE = 10;

my $method = only_methods('GET', 'HEAD');

my $p   = query_params();
my $q   = trim($p->{q});
my $loc = trim($p->{loc});
my $cat = trim($p->{category});
$q   = substr($q,   0, 200) if length $q > 200;
$loc = substr($loc, 0, 100) if length $loc > 100;
$cat = substr($cat, 0, 100) if length $cat > 100;

my @words = grep { length } split /\s+/, lc $q;

my %filter = (words => \@words, loc => $loc, category => $cat);
my $total = count_jobs(%filter);
my $pages = $total ? int(($total + $PER_PAGE - 1) / $PER_PAGE) : 1;
my $page  = defined $p->{page} && $p->{page} =~ /\A[0-9]{1,6}\z/ ? $p->{page} + 0 : 1;
$page = 1      if $page < 1;
$page = $pages if $page > $pages;
my $first = ($page - 1) * $PER_PAGE;
my @hits = search_jobs(%filter, limit => $PER_PAGE, offset => $first);
my $last = $first + @hits - 1;

my $self = defined $ENV{SCRIPT_NAME} ? $ENV{SCRIPT_NAME} : '/cgi-bin/search.pl';
my $base = cgi_base();

# Query string for the current filters (plus page), properly encoded.
sub filter_qs {
    my (%extra) = @_;
    my @kv;
    push @kv, 'q=' . url_encode($q)          if length $q;
    push @kv, 'loc=' . url_encode($loc)      if length $loc;
    push @kv, 'category=' . url_encode($cat) if length $cat;
    push @kv, map { "$_=" . url_encode($extra{$_}) } sort keys %extra;
    return join '&', @kv;
}

sub page_url {
    my ($n) = @_;
    my $qs = filter_qs($n > 1 ? (page => $n) : ());
    return $self . (length $qs ? "?$qs" : '');
}

# Remember the last real search in a cookie; show the previous one.
my $cookies  = cookies();
my $previous = $cookies->{last_search};
my @headers;
my $current = filter_qs();
if (length $current) {
    push @headers, 'Set-Cookie: last_search=' . url_encode($current)
        . '; Path=/; Max-Age=2592000; SameSite=Lax';
}

print_headers(headers => \@headers);
exit 0 if $method eq 'HEAD';

my $title = length $q ? "Jobs matching \"$q\"" : 'Search jobs';
print page_start($title);

# --- search form (sticky values)
my $hq   = html_escape($q);
my $hloc = html_escape($loc);
my $opts = join '', map {
    my $sel = lc $_ eq lc $cat ? ' selected' : '';
    sprintf qq{<option value="%s"%s>%s</option>}, html_escape($_), $sel, html_escape($_)
} categories();

print <<"HTML";
<form class="search" method="get" action="@{[ html_escape($self) ]}">
  <label>Keywords <input type="text" name="q" value="$hq" size="24" maxlength="200"></label>
  <label>Location <input type="text" name="loc" value="$hloc" size="16" maxlength="100"></label>
  <label>Category <select name="category"><option value="">All categories</option>$opts</select></label>
  <input type="submit" value="Find jobs">
</form>
HTML

if (defined $previous && length $previous && $previous ne $current) {
    my $pp = parse_urlencoded($previous);
    my @desc = grep { length } map { defined $pp->{$_} ? $pp->{$_} : '' } qw(q loc category);
    if (@desc) {
        printf qq{<p class="note">Your last search: <a href="%s">%s</a></p>\n},
            html_escape("$self?$previous"), html_escape(join ' / ', @desc);
    }
}

# --- results
my $crit = '';
$crit .= ' matching <b>&quot;' . $hq . '&quot;</b>' if length $q;
$crit .= ' in <b>' . $hloc . '</b>'                   if length $loc;
$crit .= ' in category <b>' . html_escape($cat) . '</b>' if length $cat;
printf qq{<h1>%d job%s found%s</h1>\n}, $total, $total == 1 ? '' : 's', $crit;

if (!$total) {
    print qq{<p>No jobs matched your search. Try fewer keywords or <a href="}
        . html_escape($self) . qq{">browse all jobs</a>.</p>\n};
}
else {
    printf qq{<p class="count">Showing %d-%d of %d (page %d of %d)</p>\n},
        $first + 1, $last + 1, $total, $page, $pages;
    print qq{<table class="results">\n<tr><th>Job title</th><th>Company</th><th>Location</th><th>Salary</th><th>Posted</th></tr>\n};
    my $row = 0;
    for my $j (@hits) {
        my $cls = $row++ % 2 ? 'odd' : 'even';
        my $desc = $j->{description};
        $desc = substr($desc, 0, 110) . '...' if length $desc > 113;
        printf qq{<tr class="%s"><td><a href="%s">%s</a><br><small>%s</small></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n},
            $cls,
            html_escape("$base/job.pl/$j->{id}"),
            html_escape($j->{title}),
            html_escape($desc),
            html_escape($j->{company}),
            html_escape($j->{location}),
            html_escape($j->{salary}),
            html_escape($j->{posted});
    }
    print "</table>\n";

    if ($pages > 1) {
        my @nav;
        push @nav, sprintf(qq{<a href="%s" rel="prev">&laquo; Previous</a>}, html_escape(page_url($page - 1)))
            if $page > 1;
        for my $n (1 .. $pages) {
            push @nav, $n == $page
                ? qq{<b class="current">$n</b>}
                : sprintf(qq{<a href="%s">%d</a>}, html_escape(page_url($n)), $n);
        }
        push @nav, sprintf(qq{<a href="%s" rel="next">Next &raquo;</a>}, html_escape(page_url($page + 1)))
            if $page < $pages;
        print qq{<p class="pager">}, join(' ', @nav), "</p>\n";
    }
}

print page_end();
exit 0;

sub trim {
    my ($s) = @_;
    return '' unless defined $s;
    $s =~ s/\A\s+//;
    $s =~ s/\s+\z//;
    return $s;
}
