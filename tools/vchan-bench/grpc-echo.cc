/* tools/vchan-bench/grpc-echo.cc - vchan-bench-grpc, the gRPC C++ side of
 * `vchan-bench rpc` (its grpc-unix row). Benchmark only: nothing else in
 * the tree uses gRPC.
 *
 *   vchan-bench-grpc serve unix:PATH
 *	serve Echo (grpc-echo.proto) until SIGTERM or SIGINT
 *   vchan-bench-grpc call unix:PATH SIZE IN_FLIGHT WARMUP CALLS LAT_CALLS
 *	the rpc mode's measurement: WARMUP checked calls, then the rate of
 *	CALLS calls with IN_FLIGHT at once, then the latency of LAT_CALLS
 *	calls made one at a time; one line on standard output, as vchan-bench
 *	reads it from its own rpc client:
 *	  R <calls/s> <p50_ns> <p99_ns> <calls>   every reply was right
 *	  E <why>                                  anything else
 *
 * Both sides use the completion-queue API on one thread of their own, as
 * the rpc runtime runs on one libev loop; gRPC adds its own threads. */
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "tools/vchan-bench/grpc-echo.grpc.pb.h"

namespace
{

const char echo_text[] = "vchan-bench"; /* rpc.c's RPC_TEXT */

uint64_t now_ns()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the server ---- */

/* One call from its request to its answer; its address is the tag. */
struct ServerCall {
	grpc::ServerContext ctx;
	vchanbench::EchoRequest req;
	vchanbench::EchoReply rep;
	grpc::ServerAsyncResponseWriter<vchanbench::EchoReply> writer{&ctx};
	bool answered = false;
};

void post_call(vchanbench::Echo::AsyncService *svc,
	       grpc::ServerCompletionQueue *cq)
{
	ServerCall *c = new ServerCall;

	svc->RequestEcho(&c->ctx, &c->req, &c->writer, cq, cq, c);
}

void serve_loop(vchanbench::Echo::AsyncService *svc,
		grpc::ServerCompletionQueue *cq, unsigned posted)
{
	void *tag;
	bool ok;

	/* Enough calls waiting for a request that a full window of the
	 * client's calls never waits for the server to post another. */
	for (unsigned i = 0; i < posted; i++)
		post_call(svc, cq);
	while (cq->Next(&tag, &ok)) {
		ServerCall *c = static_cast<ServerCall *>(tag);

		/* !ok: the server is shutting down (a request never came) */
		if (!ok || c->answered) {
			delete c;
			continue;
		}
		post_call(svc, cq);
		c->rep.set_text(c->req.text());
		c->rep.set_seq(c->req.seq());
		c->rep.set_blob(c->req.blob());
		c->answered = true;
		c->writer.Finish(c->rep, grpc::Status::OK, c);
	}
}

int serve(const char *addr)
{
	vchanbench::Echo::AsyncService svc;
	grpc::ServerBuilder builder;
	sigset_t stop;
	int sig;

	/* Blocked before gRPC starts its threads, so that they inherit the
	 * mask and the signal is only ever taken by sigwait() below. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, nullptr);

	builder.AddListeningPort(addr, grpc::InsecureServerCredentials());
	builder.RegisterService(&svc);
	std::unique_ptr<grpc::ServerCompletionQueue> cq =
	    builder.AddCompletionQueue();
	std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
	if (!server) {
		fprintf(stderr, "vchan-bench-grpc: cannot serve on %s\n", addr);
		return 1;
	}
	std::thread loop(serve_loop, &svc, cq.get(), 128u);

	sigwait(&stop, &sig);
	server->Shutdown();
	cq->Shutdown();
	loop.join();
	return 0;
}

/* ---- the client ---- */

struct ClientCall {
	grpc::ClientContext ctx;
	vchanbench::EchoReply rep;
	grpc::Status status;
	std::unique_ptr<grpc::ClientAsyncResponseReader<vchanbench::EchoReply>>
	    rpc;
};

class Load
{
      public:
	Load(std::shared_ptr<grpc::Channel> ch, size_t size)
	    : stub_(vchanbench::Echo::NewStub(ch)), payload_(size, '\0')
	{
		for (size_t i = 0; i < size; i++)
			payload_[i] = (char)(uint8_t)(i * 13 + 5);
	}

	/* `total` calls with `in_flight` at once; with one in flight each
	 * call's round trip goes to lat[]. Returns the elapsed ns, or 0 with
	 * why() set. */
	uint64_t run(uint32_t total, unsigned in_flight, uint64_t *lat);

	const std::string &why() const
	{
		return why_;
	}

      private:
	void send_next();
	bool check(ClientCall *c);

	std::unique_ptr<vchanbench::Echo::Stub> stub_;
	grpc::CompletionQueue cq_;
	std::string payload_;
	std::vector<bool> seen_;
	uint32_t next_ = 0, total_ = 0, done_ = 0, bad_ = 0;
	std::string why_;
};

void Load::send_next()
{
	vchanbench::EchoRequest req;
	ClientCall *c = new ClientCall;

	/* The payload's first byte carries the sequence number, so a reply
	 * with another call's payload shows. */
	req.set_text(echo_text);
	req.set_seq(next_);
	payload_[0] = (char)(uint8_t)next_;
	req.set_blob(payload_);
	next_++;
	/* The request is serialized here; req may go out of scope. */
	c->rpc = stub_->PrepareAsyncEcho(&c->ctx, req, &cq_);
	c->rpc->StartCall();
	c->rpc->Finish(&c->rep, &c->status, c);
}

bool Load::check(ClientCall *c)
{
	char why[128];
	const vchanbench::EchoReply &r = c->rep;
	uint32_t seq = r.seq();

	if (!c->status.ok()) {
		snprintf(why, sizeof(why), "call failed: %s",
			 c->status.error_message().c_str());
	} else if (seq >= total_ || seen_[seq]) {
		snprintf(why, sizeof(why), "reply of unknown call %u", seq);
	} else {
		payload_[0] = (char)(uint8_t)seq;
		if (r.text() == echo_text && r.blob() == payload_) {
			seen_[seq] = true;
			return true;
		}
		snprintf(why, sizeof(why), "wrong reply to call %u", seq);
	}
	if (why_.empty())
		why_ = why;
	return false;
}

uint64_t Load::run(uint32_t total, unsigned in_flight, uint64_t *lat)
{
	uint64_t t0 = now_ns();
	void *tag;
	bool ok;

	seen_.assign(total, false);
	next_ = done_ = bad_ = 0;
	total_ = total;
	for (unsigned i = 0; i < in_flight && next_ < total; i++) {
		if (lat != NULL)
			lat[next_] = now_ns();
		send_next();
	}
	while (done_ < next_ && cq_.Next(&tag, &ok)) {
		ClientCall *c = static_cast<ClientCall *>(tag);

		/* A client's Finish always completes with ok; its outcome is
		 * in the status. */
		if (!ok || !check(c))
			bad_++;
		/* Latency: one call in flight, so this reply is call done_'s.
		 */
		if (lat != NULL)
			lat[done_] = now_ns() - lat[done_];
		done_++;
		delete c;
		if (next_ < total && bad_ == 0) {
			if (lat != NULL)
				lat[next_] = now_ns();
			send_next();
		}
	}
	if (bad_ != 0 || done_ != total) {
		if (why_.empty())
			why_ = "completion queue ended early";
		return 0;
	}
	return now_ns() - t0 + 1;
}

void result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void result(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

int call(const char *addr, size_t size, unsigned in_flight, uint32_t warmup,
	 uint32_t rate_calls, uint32_t lat_calls)
{
	std::vector<uint64_t> lat(lat_calls);
	struct stat st;
	uint64_t ns;

	/* The socket appears when the server listens; waiting for it spares
	 * the channel a failed first attempt and its reconnection back-off. */
	for (int i = 0; strncmp(addr, "unix:", 5) == 0 && i < 1000 &&
			stat(addr + 5, &st) != 0;
	     i++)
		usleep(10000);
	std::shared_ptr<grpc::Channel> ch =
	    grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
	if (!ch->WaitForConnected(std::chrono::system_clock::now() +
				  std::chrono::seconds(10))) {
		result("E %s: connect: not connected within 10 s", addr);
		return 1;
	}
	Load l(ch, size);
	if (l.run(warmup, in_flight, nullptr) == 0) {
		result("E %s: warm-up: %s", addr, l.why().c_str());
		return 1;
	}
	ns = l.run(rate_calls, in_flight, nullptr);
	if (ns == 0) {
		result("E %s: rate: %s", addr, l.why().c_str());
		return 1;
	}
	if (l.run(lat_calls, 1, lat.data()) == 0) {
		result("E %s: latency: %s", addr, l.why().c_str());
		return 1;
	}
	std::sort(lat.begin(), lat.end());
	result("R %.1f %llu %llu %u", (double)rate_calls * 1e9 / (double)ns,
	       (unsigned long long)lat[lat_calls / 2],
	       (unsigned long long)lat[(uint64_t)lat_calls * 99 / 100],
	       rate_calls);
	return 0;
}

/* A positive number that fits, or 0. */
unsigned long count_arg(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > max)
		return 0;
	return v;
}

int usage()
{
	fprintf(stderr,
		"usage: vchan-bench-grpc serve unix:PATH\n"
		"       vchan-bench-grpc call unix:PATH SIZE IN_FLIGHT WARMUP "
		"CALLS LAT_CALLS\n");
	return 2;
}

} // namespace

int main(int argc, char **argv)
{
	unsigned long v[5];

	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	if (argc != 8 || strcmp(argv[1], "call") != 0)
		return usage();
	for (int i = 0; i < 5; i++) {
		v[i] = count_arg(argv[3 + i], 1u << 30);
		if (v[i] == 0)
			return usage();
	}
	return call(argv[2], v[0], (unsigned)v[1], (uint32_t)v[2],
		    (uint32_t)v[3], (uint32_t)v[4]);
}
