#!/usr/bin/perl
# Real Perl Gearman::Worker (CPAN Gearman 2.004) used by tests/clients/test_perl.py.
#
# usage: perl worker.pl PORT FUNCTION DIR [LIFETIME_SECONDS]
#
# Gearman::Worker sends GRAB_JOB and drops the connection when no reply comes within 0.5 s.
# Job contract shared by every external test worker (see tests/clients/_util.py):
#   "hold:<x>" -> WORK_STATUS 1/4, then wait (<= 15 s) until DIR/release exists;
#   "fail:<x>" -> WORK_FAIL (the handler returns undef);
#   "exc:<x>"  -> the handler dies "boom:<x>" (WORK_EXCEPTION, a Storable-frozen message);
#   "data:<x>" -> WORK_DATA "d1", WORK_WARNING "w1", WORK_STATUS 2/3, then complete;
#   anything   -> append the payload plus "\n" to DIR/done.log and complete with it reversed.
use strict;
use warnings;
use Gearman::Worker;
use Time::HiRes qw(time sleep);

my ($port, $function, $dir, $lifetime) = @ARGV;
die "usage: worker.pl PORT FUNCTION DIR [LIFETIME]\n" unless defined $dir;
$lifetime = 120 unless defined $lifetime;
$| = 1;

my $worker = Gearman::Worker->new(job_servers => ["127.0.0.1:$port"]);
my $started = time;

$worker->register_function($function => sub {
    my $job = shift;
    my $payload = $job->arg;
    if ($payload =~ /^hold:/) {
        $job->set_status(1, 4);
        my $deadline = time + 15;
        sleep 0.02 while !-e "$dir/release" && time < $deadline;
    }
    elsif ($payload =~ /^fail:/) {
        return undef;
    }
    elsif ($payload =~ /^exc:(.*)$/) {
        die "boom:$1\n";
    }
    elsif ($payload =~ /^data:/) {
        $worker->send_work_data($job, "d1");
        $worker->send_work_warning($job, "w1");
        $job->set_status(2, 3);
    }
    open(my $fh, '>>', "$dir/done.log") or die "done.log: $!";
    print $fh "$payload\n";
    close($fh);
    return scalar reverse $payload;
});

print "ready\n";
$worker->work(stop_if => sub { time - $started > $lifetime });
