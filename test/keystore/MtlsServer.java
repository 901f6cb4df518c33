import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * A JVM TLS server as Tomcat or Kafka would configure one: a PKCS#12 keystore and truststore,
 * client certificates required. Prints "LISTENING <port>" once bound to 127.0.0.1 (ephemeral
 * port); answers each client with the subject and serial of the certificate it presented.
 * Exits when its standard input closes, so a test that dies cannot leave it running.
 *
 * Usage: java MtlsServer <keystore.p12> <truststore.p12> <password>
 */
public class MtlsServer {
  public static void main(String[] args) throws Exception {
    char[] password = args[2].toCharArray();
    KeyStore keys = load(args[0], password);
    KeyStore trust = load(args[1], password);
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, password);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    SSLServerSocket server = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket(0, 8, InetAddress.getLoopbackAddress());
    server.setNeedClientAuth(true);
    Thread watchdog = new Thread(() -> {
      try {
        while (System.in.read() >= 0) {}
      } catch (Exception ignored) {
      }
      System.exit(0);
    });
    watchdog.setDaemon(true);
    watchdog.start();
    System.out.println("LISTENING " + server.getLocalPort());
    System.out.flush();
    while (true) {
      try (SSLSocket socket = (SSLSocket) server.accept()) {
        socket.startHandshake();
        X509Certificate client = (X509Certificate) socket.getSession().getPeerCertificates()[0];
        OutputStream out = socket.getOutputStream();
        out.write(("CLIENT " + client.getSubjectX500Principal().getName() + " SERIAL " + client.getSerialNumber().toString(16) + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
      } catch (Exception e) {
        System.out.println("HANDSHAKE FAILED " + e);
        System.out.flush();
      }
    }
  }

  private static KeyStore load(String path, char[] password) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = new FileInputStream(path)) {
      ks.load(in, password);
    }
    return ks;
  }
}
