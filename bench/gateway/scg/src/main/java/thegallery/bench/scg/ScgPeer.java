package thegallery.bench.scg;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/** Entry point only: every route lives in application.yml, as an operator would write them. */
@SpringBootApplication
public class ScgPeer {
    public static void main(String[] args) {
        SpringApplication.run(ScgPeer.class, args);
    }
}
